/**
 * The watcher a runtime runs when it has `python3` (Daytona's default image has it, not `inotify-tools`): inotify
 * through `ctypes` (no package to install), one watch per directory the filter does not prune.
 *
 * Arguments: the lease file, the mode (`inotify`), then the pruned names (`d:NAME` for a directory-only name,
 * `a:NAME` for any entry; shell globs). It runs in the root. Output, one line each:
 * - `@WATCH python-inotify` once it watches;
 * - `=<key>\t<path>` for a path that changed, with its stat as the watcher read it after the change
 *   (`f <size> <mtime_ns> <ino> <mode>` for a file, `d`, `l`, `o`, or `-` for gone);
 * - `@OVERFLOW <why>` when it lost track (the caller rescans in full).
 * It exits 5 before printing anything when inotify is not there, 7 when it runs out of watches (the caller then
 * picks another watcher: after 7, one that needs no inotify), and 0 by itself when its lease file goes.
 *
 * @internal
 */
export const source = String.raw`
import ctypes, ctypes.util, errno, fnmatch, os, select, stat, struct, sys, time
lease, mode = sys.argv[1], sys.argv[2]
dir_names = [a[2:] for a in sys.argv[3:] if a.startswith("d:")]
any_names = [a[2:] for a in sys.argv[3:] if a.startswith("a:")]
out = sys.stdout.buffer
def pruned(name, is_dir):
    for n in any_names:
        if fnmatch.fnmatchcase(name, n): return True
    if is_dir:
        for n in dir_names:
            if fnmatch.fnmatchcase(name, n): return True
    return False
def join(d, n): return n if d == "" else d + "/" + n
def key(p):
    try: st = os.lstat(p)
    except FileNotFoundError: return "-"
    except OSError: return "?"
    m = st.st_mode
    if stat.S_ISREG(m): return "f %d %d %d %o" % (st.st_size, st.st_mtime_ns, st.st_ino, m & 0o7777)
    if stat.S_ISDIR(m): return "d"
    if stat.S_ISLNK(m): return "l"
    return "o"
def line(s):
    out.write(s if isinstance(s, bytes) else s.encode())
    out.flush()
def emit(paths):
    b = []
    for p in sorted(paths):
        if "\n" in p or "\r" in p: continue
        b.append(("=" + key(p) + "\t").encode() + os.fsencode(p) + b"\n")
    if b: line(b"".join(b))
def alive(): return os.path.exists(lease)

def watch_inotify():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0: sys.exit(5)
    MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800 | 0x02000000 | 0x04000000
    ISDIR, OVERFLOW, IGNORED = 0x40000000, 0x4000, 0x8000
    wds, by_path = {}, {}
    def add(top):
        stack = [top]
        while stack:
            d = stack.pop()
            wd = libc.inotify_add_watch(fd, os.fsencode(d or "."), MASK | 0x01000000)
            if wd < 0:
                e = ctypes.get_errno()
                if e in (errno.ENOENT, errno.ENOTDIR, errno.EACCES): continue
                # out of watches (ENOSPC): a part of the tree would go unwatched; the caller scans instead
                if watching[0]: line("@OVERFLOW cannot watch %s: %s\n" % (d or ".", os.strerror(e)))
                sys.exit(7)
            old = wds.get(wd)
            if old is not None and by_path.get(old) == wd: del by_path[old]
            wds[wd] = d
            by_path[d] = wd
            try:
                with os.scandir(d or ".") as it:
                    for e in it:
                        if e.is_dir(follow_symlinks=False) and not pruned(e.name, True): stack.append(join(d, e.name))
            except OSError: pass
    def drop(top):
        pre = top + "/"
        for p in [p for p in by_path if p == top or p.startswith(pre)]:
            wd = by_path.pop(p)
            wds.pop(wd, None)
            libc.inotify_rm_watch(fd, wd)
    watching = [False]
    add("")
    watching[0] = True
    line("@WATCH python-inotify\n")
    pending, first = set(), 0.0
    while True:
        r, _, _ = select.select([fd], [], [], 2.0 if not pending else 0.02)
        if not r:
            if pending:
                emit(pending)
                pending = set()
            elif not alive(): return
            continue
        buf = os.read(fd, 65536)
        off = 0
        while off + 16 <= len(buf):
            wd, mask, _, n = struct.unpack_from("iIII", buf, off)
            name = buf[off + 16:off + 16 + n].split(b"\0", 1)[0]
            off += 16 + n
            if mask & OVERFLOW:
                line("@OVERFLOW the event queue overflowed\n")
                continue
            d = wds.get(wd)
            if d is None: continue
            if mask & IGNORED:
                del wds[wd]
                if by_path.get(d) == wd: del by_path[d]
                if d == "":
                    line("@NOROOT\n")
                    return
                continue
            if not name:
                if d != "":
                    if not pending: first = time.monotonic()
                    pending.add(d)
                continue
            nm = os.fsdecode(name)
            isdir = bool(mask & ISDIR)
            if nm.startswith(".sandbox-sync-") or pruned(nm, isdir): continue
            p = join(d, nm)
            if isdir and mask & 0x40: drop(p)
            if isdir and mask & (0x100 | 0x80): add(p)
            if not pending: first = time.monotonic()
            pending.add(p)
        # a burst is written out after 20 ms without events, or once it is big or 100 ms old
        if pending and (len(pending) > 2000 or time.monotonic() - first > 0.1):
            emit(pending)
            pending = set()

try:
    watch_inotify()
except BrokenPipeError: pass
except KeyboardInterrupt: pass
`
