/*
 * safedir: a directory nobody but root (or the daemon's own user) can
 * change, and every directory above it.  One check for the control
 * socket's directory and the chroot.
 *
 * From "/" down to dir, each directory must be owned by root or by owner
 * and not writable by its group or others; above dir itself a sticky
 * directory (such as /tmp) may be writable, since others cannot rename or
 * remove what is not theirs there.  The path is checked as written (a
 * link's directory before the link) and again as it resolves, as
 * OpenSSH's safe_path checks the resolved path.
 */
#ifndef CMEM_SAFEDIR_H
#define CMEM_SAFEDIR_H

#include <stddef.h>
#include <sys/types.h>

/*
 * 0 if dir (absolute) is safe for owner (0: root only), else -1 and a
 * message in err that begins with what ("control socket /run/cmem/cmemd.sock").
 */
int safedir_check(const char *what, const char *dir, uid_t owner, char *err, size_t errlen);

#endif
