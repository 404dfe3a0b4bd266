//! Keeps the media cache (`media.dir`) bounded: by how long ago each file was last used,
//! and by total size.
//!
//! The HTTP layer writes the cache (`routes/media.rs`): an entry is the customer's file,
//! named by its media id (`[A-Za-z0-9_-]`), and a `<id>.meta` beside it; downloads in
//! progress are temporary files whose names start with a dot. A file's modification
//! time is when it was cached or last served (a hit moves it forward, at most hourly).
//! Anything else in the directory is left alone.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Temporary files and incomplete entries younger than this may belong to a download in
/// progress: left alone.
const GRACE: Duration = Duration::from_secs(3600);

/// How far the cache may grow. `None`: no limit of that kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaCacheLimits {
    /// Entries not used for this long are removed (`media.cache_max_age_days`).
    pub max_age: Option<Duration>,
    /// Past this many bytes, the least recently used entries are removed
    /// (`media.cache_max_mb`).
    pub max_bytes: Option<u64>,
}

/// What a pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Entries removed (for age or size), and temporary or incomplete files removed.
    pub removed: usize,
    pub removed_bytes: u64,
    /// Entries left, and their size.
    pub kept: usize,
    pub kept_bytes: u64,
    /// Files that could not be removed (logged).
    pub failed: usize,
}

#[derive(Default)]
struct Entry {
    data: Option<(u64, SystemTime)>,
    meta: Option<(u64, SystemTime)>,
}

impl Entry {
    fn bytes(&self) -> u64 {
        self.data.map_or(0, |d| d.0) + self.meta.map_or(0, |m| m.0)
    }
}

/// A media id as the HTTP layer names its file.
fn is_key(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `media_id` as the name of its cache file, if it is one already (`[A-Za-z0-9_-]`).
#[must_use]
pub fn key(media_id: &str) -> Option<&str> {
    is_key(media_id).then_some(media_id)
}

/// The complete cache entry of `key` (see [`key`]): its file's path, and the content
/// type recorded beside it.
pub async fn cached(dir: &Path, key: &str) -> Option<(std::path::PathBuf, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Meta {
        content_type: Option<String>,
    }
    let file = dir.join(key);
    let meta = tokio::fs::read(dir.join(format!("{key}.meta"))).await.ok()?;
    let meta: Meta = serde_json::from_slice(&meta).ok()?;
    tokio::fs::metadata(&file).await.ok().filter(std::fs::Metadata::is_file)?;
    Some((file, meta.content_type))
}

/// Removes the cached file of `media_id` and its `.meta` (erasure, retention); a media
/// id that cannot name a cache entry, or one not cached, is nothing to remove. Blocking.
///
/// # Errors
/// A file that exists but cannot be removed.
pub fn remove(dir: &Path, media_id: &str) -> io::Result<bool> {
    if !is_key(media_id) {
        return Ok(false);
    }
    let mut removed = false;
    for name in [media_id.to_owned(), format!("{media_id}.meta")] {
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Removes what is past `limits` at `now`, and what downloads that died left behind. A
/// missing directory is an empty cache. Blocking: run it off the async workers.
pub fn prune(dir: &Path, limits: &MediaCacheLimits, now: SystemTime) -> io::Result<PruneReport> {
    let mut report = PruneReport::default();
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(e),
    };
    let older_than = |t: SystemTime, age: Duration| now.duration_since(t).is_ok_and(|d| d > age);
    let remove = |name: &str, bytes: u64, report: &mut PruneReport| match std::fs::remove_file(dir.join(name)) {
        Ok(()) => {
            report.removed_bytes += bytes;
            true
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot remove a media cache file");
            report.failed += 1;
            false
        }
    };

    let mut entries: HashMap<String, Entry> = HashMap::new();
    for item in read {
        let item = item?;
        let Ok(name) = item.file_name().into_string() else { continue };
        let Ok(stat) = item.metadata() else { continue };
        if !stat.is_file() {
            continue;
        }
        let Ok(modified) = stat.modified() else { continue };
        let found = (stat.len(), modified);
        if name.starts_with('.') {
            // A download's temporary file: a live download keeps writing to it.
            if (name.ends_with(".part") || name.ends_with(".meta"))
                && older_than(found.1, GRACE)
                && remove(&name, found.0, &mut report)
            {
                report.removed += 1;
            }
        } else if let Some(key) = name.strip_suffix(".meta").filter(|k| is_key(k)) {
            entries.entry(key.to_owned()).or_default().meta = Some(found);
        } else if is_key(&name) {
            entries.entry(name).or_default().data = Some(found);
        }
    }

    // Complete entries, least recently used first; half of one (a crash between the two
    // renames, or a removal cut short) cannot be served and goes once past the grace.
    let mut complete = Vec::with_capacity(entries.len());
    for (key, entry) in entries {
        match (entry.data, entry.meta) {
            (Some((_, used)), Some(_)) => complete.push((used, key, entry)),
            (Some((bytes, at)), None) | (None, Some((bytes, at))) => {
                let name = if entry.data.is_some() { key } else { format!("{key}.meta") };
                if older_than(at, GRACE) && remove(&name, bytes, &mut report) {
                    report.removed += 1;
                }
            }
            (None, None) => {}
        }
    }
    complete.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut total: u64 = complete.iter().map(|(_, _, e)| e.bytes()).sum();
    for (used, key, entry) in complete {
        let expired = limits.max_age.is_some_and(|age| older_than(used, age));
        let too_big = limits.max_bytes.is_some_and(|max| total > max);
        // The file first: without it the entry is no longer served.
        if (expired || too_big)
            && remove(&key, entry.data.map_or(0, |d| d.0), &mut report)
            && remove(&format!("{key}.meta"), entry.meta.map_or(0, |m| m.0), &mut report)
        {
            report.removed += 1;
            total -= entry.bytes();
        } else {
            report.kept += 1;
            report.kept_bytes += entry.bytes();
        }
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs::{File, FileTimes};
    use std::path::PathBuf;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("sb-media-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        /// A file of `bytes` bytes last modified `age` before `now`.
        fn file(&self, name: &str, bytes: usize, now: SystemTime, age: Duration) {
            let path = self.0.join(name);
            std::fs::write(&path, vec![b'x'; bytes]).unwrap();
            let f = File::options().write(true).open(&path).unwrap();
            f.set_times(FileTimes::new().set_modified(now - age)).unwrap();
        }

        fn entry(&self, key: &str, bytes: usize, now: SystemTime, age: Duration) {
            self.file(&format!("{key}.meta"), 30, now, age);
            self.file(key, bytes, now, age);
        }

        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> =
                std::fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            names.sort();
            names
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn entries_unused_for_longer_than_the_age_limit_are_removed() {
        let dir = Dir::new("age");
        let now = SystemTime::now();
        dir.entry("111", 1000, now, 40 * DAY);
        dir.entry("222", 1000, now, 2 * DAY);
        let limits = MediaCacheLimits { max_age: Some(30 * DAY), max_bytes: None };
        let report = prune(&dir.0, &limits, now).unwrap();
        assert_eq!(dir.names(), ["222", "222.meta"]);
        assert_eq!(report, PruneReport { removed: 1, removed_bytes: 1030, kept: 1, kept_bytes: 1030, failed: 0 });
        // Nothing else to do; no limits, nothing removed.
        assert_eq!(prune(&dir.0, &limits, now).unwrap().removed, 0);
        assert_eq!(prune(&dir.0, &MediaCacheLimits::default(), now + 365 * DAY).unwrap().removed, 0);
    }

    #[test]
    fn past_the_size_cap_the_least_recently_used_go_first() {
        let dir = Dir::new("size");
        let now = SystemTime::now();
        dir.entry("old", 4000, now, 3 * DAY);
        dir.entry("mid", 4000, now, 2 * DAY);
        dir.entry("new", 4000, now, DAY);
        // 3 × 4030 bytes: a cap of 9000 keeps the two most recently used.
        let report = prune(&dir.0, &MediaCacheLimits { max_age: None, max_bytes: Some(9000) }, now).unwrap();
        assert_eq!(dir.names(), ["mid", "mid.meta", "new", "new.meta"]);
        assert_eq!((report.removed, report.kept, report.kept_bytes), (1, 2, 8060));
        let report = prune(&dir.0, &MediaCacheLimits { max_age: None, max_bytes: Some(8000) }, now).unwrap();
        assert_eq!(dir.names(), ["new", "new.meta"]);
        assert_eq!((report.removed, report.kept_bytes), (1, 4030));
    }

    #[test]
    fn leftovers_of_dead_downloads_go_after_a_grace_and_other_files_stay() {
        let dir = Dir::new("leftovers");
        let now = SystemTime::now();
        dir.file(".123.abc.part", 500, now, 2 * HOUR);
        dir.file(".123.abc.meta", 30, now, 2 * HOUR);
        dir.file(".456.def.part", 500, now, Duration::from_secs(60));
        dir.file("789.meta", 30, now, 2 * HOUR);
        dir.file("790", 100, now, 2 * HOUR);
        dir.file("791.meta", 30, now, Duration::from_secs(60));
        dir.file("README.txt", 10, now, 400 * DAY);
        let report = prune(&dir.0, &MediaCacheLimits { max_age: Some(DAY), max_bytes: Some(1) }, now).unwrap();
        assert_eq!(dir.names(), [".456.def.part", "791.meta", "README.txt"]);
        assert_eq!((report.removed, report.removed_bytes, report.kept), (4, 660, 0));
    }

    #[test]
    fn a_missing_directory_is_an_empty_cache() {
        let missing = std::env::temp_dir().join(format!("sb-media-missing-{}", std::process::id()));
        assert_eq!(prune(&missing, &MediaCacheLimits::default(), SystemTime::now()).unwrap(), PruneReport::default());
    }
}
