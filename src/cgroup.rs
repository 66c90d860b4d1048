//! The memory limit of the cgroup tinyweb runs in, and its usage, from cgroup v1 or v2.
//!
//! The cgroup directory is found the way the kernel describes it: `/proc/self/cgroup` names the
//! process's cgroup path and `/proc/self/mountinfo` the mount of the memory hierarchy and which
//! cgroup is that mount's root. Without a cgroup namespace (Docker on cgroup v1) the path names
//! the host's cgroup, which the container sees as the root of its mount; so a path outside the
//! mount's root means the mount's root itself.

use std::fs;

/// A cgroup v1 "no limit" is a huge page-aligned value (9223372036854771712 on x86_64); anything
/// this large is no limit.
const UNLIMITED_FROM: u64 = 1 << 60;

/// A memory limit and the usage charged against it when read.
#[derive(Debug, PartialEq, Eq)]
pub struct Memory {
    /// 1 or 2.
    pub version: u8,
    /// The limit, in bytes.
    pub limit: u64,
    /// The usage, in bytes (cgroup v1: `memory.usage_in_bytes`, v2: `memory.current`).
    pub usage: u64,
}

/// Reads this process's cgroup memory limit and usage.
///
/// # Errors
/// Why there is no usable limit: none set, no cgroup filesystem, a missing or malformed file.
pub fn memory() -> Result<Memory, String> {
    memory_under("")
}

/// [`memory`], with every absolute path read under the directory `root` (for tests on fixture
/// trees). Paths are handled as strings: they come from the kernel already absolute and clean,
/// and `std::path`'s component parsing would cost binary size for nothing.
///
/// # Errors
/// As [`memory`].
pub fn memory_under(root: &str) -> Result<Memory, String> {
    let read = |path: &str| -> Result<String, String> {
        fs::read_to_string(format!("{root}{path}")).map_err(|e| format!("cannot read {path}: {e}"))
    };
    let mountinfo = read("/proc/self/mountinfo")?;
    let cgroups = read("/proc/self/cgroup")?;
    let (version, mount) = find_mount(&mountinfo).ok_or("no cgroup memory controller mounted")?;
    let path = own_path(&cgroups, version).ok_or("/proc/self/cgroup names no memory cgroup")?;
    let dir = cgroup_dir(&mount, path);
    let number = |name: &str, dir: &str| -> Result<Option<u64>, String> {
        let path = format!("{dir}/{name}");
        let text = read(&path)?;
        let text = text.trim();
        if version == 2 && text == "max" {
            return Ok(None);
        }
        match text.parse::<u64>() {
            Ok(n) if n < UNLIMITED_FROM => Ok(Some(n)),
            Ok(_) => Ok(None),
            Err(_) => Err(format!("{path} holds {text:?}, not a number")),
        }
    };
    let (limit, usage) = if version == 1 {
        let stat = read(&format!("{dir}/memory.stat")).unwrap_or_default();
        let hierarchical = stat
            .lines()
            .find_map(|line| line.strip_prefix("hierarchical_memory_limit "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .filter(|&n| n < UNLIMITED_FROM);
        let own = number("memory.limit_in_bytes", &dir)?;
        let limit = match (own, hierarchical) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (limit, number("memory.usage_in_bytes", &dir)?)
    } else {
        // A v2 limit is also set by every ancestor within the mount.
        let mut limit: Option<u64> = None;
        let mut at = Some(dir.as_str());
        while let Some(d) = at.filter(|d| d.starts_with(mount.point.as_str())) {
            if read(&format!("{d}/memory.max")).is_ok() {
                if let Some(n) = number("memory.max", d)? {
                    limit = Some(limit.map_or(n, |l| l.min(n)));
                }
            }
            at = d.rsplit_once('/').map(|(parent, _)| parent);
        }
        (limit, number("memory.current", &dir)?)
    };
    let limit = limit.ok_or_else(|| format!("cgroup v{version} sets no memory limit"))?;
    let usage = usage.ok_or_else(|| format!("cgroup v{version} usage is unreadable"))?;
    Ok(Memory {
        version,
        limit,
        usage,
    })
}

/// A mount of a cgroup hierarchy: where it is and which cgroup is its root.
#[derive(Debug, PartialEq, Eq)]
struct Mount {
    point: String,
    root: String,
}

/// The cgroup v1 memory hierarchy's mount if there is one, else the cgroup v2 mount.
fn find_mount(mountinfo: &str) -> Option<(u8, Mount)> {
    let mut v2 = None;
    for line in mountinfo.lines() {
        // Fields: id parent major:minor root mount-point options [optional...] - type source super
        let Some((fields, tail)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = fields.split(' ').collect();
        let tail: Vec<&str> = tail.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (fields.get(3), fields.get(4), tail.first()) else {
            continue;
        };
        let mount = Mount {
            point: unescape(point).trim_end_matches('/').to_owned(),
            root: unescape(root),
        };
        match *fstype {
            "cgroup"
                if tail
                    .get(2)
                    .is_some_and(|opts| opts.split(',').any(|o| o == "memory")) =>
            {
                return Some((1, mount));
            }
            "cgroup2" if v2.is_none() => v2 = Some((2, mount)),
            _ => {}
        }
    }
    v2
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(o)) => {
                out.push((o[0] - b'0') * 64 + (o[1] - b'0') * 8 + (o[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup path in the hierarchy of `version` (v1: the one with `memory`).
fn own_path(cgroups: &str, version: u8) -> Option<&str> {
    cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = if version == 1 {
            controllers.split(',').any(|c| c == "memory")
        } else {
            id == "0" && controllers.is_empty()
        };
        wanted.then_some(path)
    })
}

/// The directory of cgroup `path` under `mount`: the mount's root when the path lies outside it.
fn cgroup_dir(mount: &Mount, path: &str) -> String {
    let root = mount.root.trim_end_matches('/');
    let path = path.trim_end_matches('/');
    match path.strip_prefix(root) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{}{rest}", mount.point),
        _ => mount.point.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture tree of files under a fresh temporary directory, removed when dropped.
    struct Tree(String);

    impl Tree {
        fn new(name: &str, files: &[(&str, &str)]) -> Tree {
            let root = std::env::temp_dir().join(format!("tinyweb-cgroup-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            for (path, text) in files {
                let full = root.join(path.trim_start_matches('/'));
                fs::create_dir_all(full.parent().unwrap()).unwrap();
                fs::write(full, text).unwrap();
            }
            Tree(root.to_string_lossy().into_owned())
        }

        fn memory(&self) -> Result<Memory, String> {
            memory_under(&self.0)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const V1_MOUNTINFO: &str = "\
        22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n\
        30 22 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
        35 30 0:31 /docker/abc /sys/fs/cgroup/memory ro,nosuid master:15 - cgroup cgroup rw,memory\n\
        36 30 0:32 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n";
    const V1_CGROUP: &str = "12:cpu,cpuacct:/docker/abc\n9:memory:/docker/abc\n1:name=systemd:/docker/abc\n";
    const V1_STAT: &str = "cache 0\nrss 1048576\nhierarchical_memory_limit 6291456\n";

    /// Docker on cgroup v1: /proc/self/cgroup names the host's path; the mount's root is read.
    #[test]
    fn v1_in_a_container_reads_the_mount_root() {
        let tree = Tree::new(
            "v1",
            &[
                ("/proc/self/mountinfo", V1_MOUNTINFO),
                ("/proc/self/cgroup", V1_CGROUP),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "6291456\n"),
                ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "1200000\n"),
                ("/sys/fs/cgroup/memory/memory.stat", V1_STAT),
            ],
        );

        assert_eq!(
            tree.memory(),
            Ok(Memory {
                version: 1,
                limit: 6291456,
                usage: 1200000
            })
        );
    }

    /// On a v1 host, the process's own cgroup under the mount is read; an ancestor's smaller
    /// limit (hierarchical_memory_limit) wins.
    #[test]
    fn v1_on_a_host_reads_the_own_cgroup() {
        let tree = Tree::new(
            "v1host",
            &[
                (
                    "/proc/self/mountinfo",
                    "35 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
                ),
                ("/proc/self/cgroup", "9:memory:/tinyweb\n"),
                (
                    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                    "9223372036854771712\n",
                ),
                (
                    "/sys/fs/cgroup/memory/tinyweb/memory.limit_in_bytes",
                    "104857600\n",
                ),
                ("/sys/fs/cgroup/memory/tinyweb/memory.usage_in_bytes", "4096\n"),
                (
                    "/sys/fs/cgroup/memory/tinyweb/memory.stat",
                    "hierarchical_memory_limit 52428800\n",
                ),
            ],
        );

        assert_eq!(tree.memory().map(|m| (m.limit, m.usage)), Ok((52428800, 4096)));
    }

    /// cgroup v1's "no limit" sentinel is no limit.
    #[test]
    fn v1_huge_sentinel_is_no_limit() {
        let tree = Tree::new(
            "v1max",
            &[
                ("/proc/self/mountinfo", V1_MOUNTINFO),
                ("/proc/self/cgroup", V1_CGROUP),
                (
                    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                    "9223372036854771712\n",
                ),
                ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "1200000\n"),
                (
                    "/sys/fs/cgroup/memory/memory.stat",
                    "hierarchical_memory_limit 9223372036854771712\n",
                ),
            ],
        );

        assert_eq!(tree.memory(), Err("cgroup v1 sets no memory limit".into()));
    }

    const V2_MOUNTINFO: &str = "\
        28 22 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n";

    /// cgroup v2 in a cgroup namespace: path "/", the limit in memory.max.
    #[test]
    fn v2_reads_memory_max_and_current() {
        let tree = Tree::new(
            "v2",
            &[
                ("/proc/self/mountinfo", V2_MOUNTINFO),
                ("/proc/self/cgroup", "0::/\n"),
                ("/sys/fs/cgroup/memory.max", "6291456\n"),
                ("/sys/fs/cgroup/memory.current", "900000\n"),
            ],
        );

        assert_eq!(
            tree.memory(),
            Ok(Memory {
                version: 2,
                limit: 6291456,
                usage: 900000
            })
        );
    }

    /// cgroup v2 on a host: the smallest limit of the cgroup and its ancestors applies.
    #[test]
    fn v2_takes_the_smallest_ancestor_limit() {
        let tree = Tree::new(
            "v2nested",
            &[
                ("/proc/self/mountinfo", V2_MOUNTINFO),
                ("/proc/self/cgroup", "0::/app.slice/tinyweb.service\n"),
                ("/sys/fs/cgroup/app.slice/memory.max", "8388608\n"),
                ("/sys/fs/cgroup/app.slice/tinyweb.service/memory.max", "max\n"),
                (
                    "/sys/fs/cgroup/app.slice/tinyweb.service/memory.current",
                    "1000\n",
                ),
            ],
        );

        assert_eq!(tree.memory().map(|m| (m.limit, m.usage)), Ok((8388608, 1000)));
    }

    /// `max` is no limit.
    #[test]
    fn v2_max_is_no_limit() {
        let tree = Tree::new(
            "v2max",
            &[
                ("/proc/self/mountinfo", V2_MOUNTINFO),
                ("/proc/self/cgroup", "0::/\n"),
                ("/sys/fs/cgroup/memory.max", "max\n"),
                ("/sys/fs/cgroup/memory.current", "900000\n"),
            ],
        );

        assert_eq!(tree.memory(), Err("cgroup v2 sets no memory limit".into()));
    }

    /// Malformed and missing files, and no cgroup filesystem at all, are errors, not panics.
    #[test]
    fn missing_or_malformed_is_an_error() {
        let malformed = Tree::new(
            "v2bad",
            &[
                ("/proc/self/mountinfo", V2_MOUNTINFO),
                ("/proc/self/cgroup", "0::/\n"),
                ("/sys/fs/cgroup/memory.max", "lots\n"),
                ("/sys/fs/cgroup/memory.current", "900000\n"),
            ],
        );
        let missing = Tree::new(
            "v1missing",
            &[
                ("/proc/self/mountinfo", V1_MOUNTINFO),
                ("/proc/self/cgroup", V1_CGROUP),
            ],
        );
        let no_cgroupfs = Tree::new(
            "none",
            &[
                ("/proc/self/mountinfo", "22 1 0:21 / /sys rw - sysfs sysfs rw\n"),
                ("/proc/self/cgroup", "0::/\n"),
            ],
        );
        let no_proc = Tree::new("noproc", &[]);

        assert!(malformed.memory().unwrap_err().contains("\"lots\""));
        assert!(missing.memory().unwrap_err().contains("memory.limit_in_bytes"));
        assert_eq!(
            no_cgroupfs.memory(),
            Err("no cgroup memory controller mounted".into())
        );
        assert!(no_proc.memory().unwrap_err().contains("/proc/self/mountinfo"));
    }

    /// Escaped mount points (a space is `\040`) are unescaped.
    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(unescape(r"/no\escape"), r"/no\escape");
    }
}
