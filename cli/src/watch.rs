//! Watching files for `deploy --code --watch`: a snapshot of the size and modification
//! time of every file under some paths, polled twice a second. Polling keeps it to the
//! standard library and works the same on every filesystem (network and container
//! mounts included); a few hundred source files take well under a millisecond to stat.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the files are looked at.
const POLL: Duration = Duration::from_millis(500);

/// Every file under the watched paths with its size and modification time (`target`
/// and hidden directories are skipped: builds write there).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot(BTreeMap<PathBuf, (u64, Option<SystemTime>)>);

impl Snapshot {
    pub fn of(paths: &[PathBuf]) -> Snapshot {
        let mut files = BTreeMap::new();
        for p in paths {
            walk(p, &mut files);
        }
        Snapshot(files)
    }
}

fn walk(path: &Path, files: &mut BTreeMap<PathBuf, (u64, Option<SystemTime>)>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_file() {
        files.insert(path.to_path_buf(), (meta.len(), meta.modified().ok()));
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        walk(&entry.path(), files);
    }
}

/// Blocks until something under `paths` differs from `seen`; returns the new snapshot.
/// A change is acted on once it has settled for one poll (an editor's save or a zip
/// being written is several writes).
pub fn wait_for_change(paths: &[PathBuf], seen: Snapshot) -> Snapshot {
    let mut last = seen.clone();
    loop {
        std::thread::sleep(POLL);
        let now = Snapshot::of(paths);
        if now != seen && now == last {
            return now;
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_added_changed_and_removed_files_but_not_build_output() {
        let dir = std::env::temp_dir().join(format!("stackpro-watch-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("target")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "a").unwrap();
        let before = Snapshot::of(std::slice::from_ref(&dir));
        std::fs::write(dir.join("target/out"), "x").unwrap();
        assert_eq!(Snapshot::of(std::slice::from_ref(&dir)), before);
        std::fs::write(dir.join("src/lib.rs"), "ab").unwrap();
        std::fs::write(dir.join("src/new.rs"), "n").unwrap();
        let after = Snapshot::of(std::slice::from_ref(&dir));
        let lib = dir.join("src/lib.rs");
        assert_ne!(after.0[&lib], before.0[&lib], "changed");
        assert!(after.0.contains_key(&dir.join("src/new.rs")), "added");
        assert_eq!(after.0.len(), 2, "nothing under target/");
        std::fs::remove_file(dir.join("src/new.rs")).unwrap();
        let removed = Snapshot::of(std::slice::from_ref(&dir));
        assert!(!removed.0.contains_key(&dir.join("src/new.rs")), "removed");
        assert_ne!(removed, after);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
