"""What an image's filesystem holds, read from `docker export`, and what its binaries are."""

import posixpath
import struct
import tarfile

# Created by the engine in every container (empty files, directories, one link); not the image's.
ENGINE_ENTRIES = {
    ".dockerenv", "dev", "dev/console", "dev/pts", "dev/shm", "etc", "etc/hostname",
    "etc/hosts", "etc/mtab", "etc/resolv.conf", "proc", "sys",
}
BINARIES = ("bin/tini", "bin/tinyweb")
STORE = "nix/store"


def read_export(path):
    """{normalised name: (TarInfo, bytes or None)} of an exported container filesystem."""
    entries = {}
    with tarfile.open(path) as archive:
        for info in archive:
            name = posixpath.normpath(info.name.lstrip("/"))
            if name == ".":
                continue
            content = archive.extractfile(info).read() if info.isreg() else None
            entries[name] = (info, content)
    return entries


def resolve(entries, name, hops=16):
    """Follows symbolic links inside the tree, in any component (a Nix image may link /bin
    itself into the store); returns the final name and every name passed on the way."""
    parts = name.split("/")
    resolved = ""
    visited = []
    while parts and hops:
        current = f"{resolved}/{parts.pop(0)}" if resolved else parts.pop(0)
        visited.append(current)
        info, _ = entries.get(current, (None, None))
        if info is not None and info.issym():
            hops -= 1
            target = info.linkname
            base = "" if target.startswith("/") else posixpath.dirname(current)
            joined = posixpath.normpath(posixpath.join(base, target.lstrip("/")))
            parts = joined.split("/") + parts
            resolved = ""
        else:
            resolved = current
    return resolved, visited


def tree_problems(entries):
    """Why the tree is not exactly the two static binaries (plus, for an image that keeps Nix
    store paths, exactly the store paths they resolve into and the links to them); [] if it is."""
    problems = []
    for name in ENGINE_ENTRIES & entries.keys():
        info, _ = entries[name]
        if info.isreg() and info.size:
            problems.append(f"/{name} is not empty")
    image = {name: entry for name, entry in entries.items() if name not in ENGINE_ENTRIES}
    expected = {"bin", *BINARIES}
    roots = set()
    for binary in BINARIES:
        final, visited = resolve(image, binary)
        info, _ = image.get(final, (None, None))
        if info is None or not info.isreg():
            problems.append(f"/{binary} is missing or not a regular file")
            continue
        if not info.mode & 0o111:
            problems.append(f"/{binary} is not executable")
        if final != binary:
            if not final.startswith(STORE + "/"):
                problems.append(f"/{binary} links outside the Nix store, to /{final}")
            roots |= {
                "/".join(name.split("/")[:3])
                for name in visited
                if name.startswith(STORE + "/")
            }
    if roots:
        expected |= {"nix", STORE, *roots}
    for name in sorted(image):
        inside_root = any(name.startswith(root + "/") for root in roots)
        if name not in expected and not inside_root:
            problems.append(f"unexpected /{name}")
    for name, (info, content) in sorted(image.items()):
        if content is not None and content[:4] == b"\x7fELF" and elf_interpreter(content):
            problems.append(f"/{name} is dynamically linked (needs {elf_interpreter(content)})")
    return problems


def binary_content(entries, binary):
    _, content = entries.get(resolve(entries, binary)[0], (None, None))
    return content


def elf_interpreter(elf):
    """The PT_INTERP path of a 64-bit little-endian ELF, or None for a static binary."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for index in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + index * phentsize
        )
        if p_type == 3:
            return elf[p_offset:p_offset + p_filesz].rstrip(b"\0").decode(errors="replace")
    return None


def has_debug_info(elf):
    """True when the ELF has a .debug_info section (the article's "debug info: yes")."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    if not shoff or not shnum:
        return False
    strtab_offset = struct.unpack_from("<Q", elf, shoff + shstrndx * shentsize + 0x18)[0]
    for index in range(shnum):
        name_offset, = struct.unpack_from("<I", elf, shoff + index * shentsize)
        start = strtab_offset + name_offset
        if elf[start:elf.index(b"\0", start)] == b".debug_info":
            return True
    return False


def is_upx_packed(elf):
    """UPX writes its `UPX!` magic into the packed file's headers."""
    return b"UPX!" in elf[:4096]
