#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <sys/file.h>

/* Device numbers of a stat's st_rdev (major/minor are macros in glibc). */
static inline unsigned int csystem_major(dev_t dev) { return major(dev); }
static inline unsigned int csystem_minor(dev_t dev) { return minor(dev); }
static inline dev_t csystem_makedev(unsigned int maj, unsigned int min) { return makedev(maj, min); }

/* ---- Build isolation (Sources/ImageBuild/BuildIsolation.swift) ----
 * Glibc's Swift module is built without _GNU_SOURCE, and prctl and syscall are variadic, so the
 * few Linux calls isolation needs beyond Glibc's mount, umount2 and mount_setattr are wrapped here. */
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/capability.h>

enum {
    csystem_AT_RECURSIVE = 0x8000,              /* linux/fcntl.h, for mount_setattr */
    csystem_CLOSE_RANGE_CLOEXEC = 1 << 2,       /* linux/close_range.h */
    csystem_O_PATH = 010000000,                 /* fcntl.h, under _GNU_SOURCE */
    csystem_POSIX_SPAWN_SETSID = 0x80,          /* spawn.h, under _GNU_SOURCE (glibc >= 2.26) */
    /* securebits: NOROOT and its lock, KEEP_CAPS locked off, NO_CAP_AMBIENT_RAISE and its lock. */
    csystem_SECURE_NOROOT_LOCKED_NOAMBIENT = 0x01 | 0x02 | 0x20 | 0x40 | 0x80,
};

/* prctl(2) with every argument given (it is variadic in C, which Swift does not import). */
static inline int csystem_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
    return prctl(option, a2, a3, a4, a5);
}

/* posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34) is declared only under _GNU_SOURCE. */
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
static inline int csystem_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

/* close_range(2) (Linux >= 5.9; CLOSE_RANGE_CLOEXEC >= 5.11). */
static inline int csystem_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    return (int)syscall(SYS_close_range, first, last, flags);
}

/* The calling thread's capability sets (all 64 bits of each), and setting all three to zero. */
static inline int csystem_capget(unsigned long long *effective, unsigned long long *permitted, unsigned long long *inheritable) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    int result = (int)syscall(SYS_capget, &header, data);
    *effective = (unsigned long long)data[1].effective << 32 | data[0].effective;
    *permitted = (unsigned long long)data[1].permitted << 32 | data[0].permitted;
    *inheritable = (unsigned long long)data[1].inheritable << 32 | data[0].inheritable;
    return result;
}
static inline int csystem_capset_none(void) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &header, data);
}

/* process_vm_readv(2) of `length` bytes at `remote` in `pid` (declared only under _GNU_SOURCE). */
static inline long csystem_process_vm_read(pid_t pid, void *local, size_t length, unsigned long remote) {
    struct iovec mine = { local, length };
    struct iovec theirs = { (void *)remote, length };
    return syscall(SYS_process_vm_readv, pid, &mine, 1UL, &theirs, 1UL, 0UL);
}
