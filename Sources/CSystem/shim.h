#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <sys/file.h>

/* Device numbers of a stat's st_rdev (major/minor are macros in glibc). */
static inline unsigned int csystem_major(dev_t dev) { return major(dev); }
static inline unsigned int csystem_minor(dev_t dev) { return minor(dev); }
static inline dev_t csystem_makedev(unsigned int maj, unsigned int min) { return makedev(maj, min); }
