//! Safe file operations: the only code that opens, creates, replaces or removes files in the state directory, and
//! the metrics file outside it.
//!
//! What is found there may have been put there by another user. So no symbolic link is followed (`O_NOFOLLOW`), no
//! FIFO blocks a pass (`O_NONBLOCK`), only regular files are read, up to a size limit; and a file is replaced by a
//! new private file renamed over it, so readers see the old or the new content and a planted name is never
//! written through.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of every file in the state directory: the maintenance reason, the rise/fall counts and the
/// configuration cache are nobody else's business.
pub(crate) const PRIVATE: u32 = 0o600;

/// Flags of every open of an existing file: never through a symbolic link, never blocked by a FIFO.
pub(super) const NO_FOLLOW: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// How many unpredictable names to try for a temporary file before giving up.
pub(super) const NAME_ATTEMPTS: usize = 8;

/// A file being replaced: its temporary file exists; [`Replacement::commit`] fills it and renames it into place.
/// Dropped without a commit, the temporary file is gone.
///
/// The temporary file has no name while it waits (`O_TMPFILE`): loop mode keeps one ready between passes, and a
/// process killed meanwhile leaves nothing behind (named ones piled up as empty `.state.json.<random>` files). It
/// gets a name only at the commit, just before the rename. A file system without `O_TMPFILE` gets a named one.
#[derive(Debug)]
pub(crate) struct Replacement {
    file: File,
    /// The temporary file's name, when it has one already.
    temporary: Option<PathBuf>,
    dir: PathBuf,
    name: String,
    shown: PathBuf,
    committed: bool,
}

impl Replacement {
    /// Creates the temporary file for `name` in `dir` with exactly `mode`, handed to `owner` when given.
    pub(super) fn create(
        dir: &Path,
        name: &str,
        mode: u32,
        owner: Option<(u32, u32)>,
        shown: PathBuf,
    ) -> io::Result<Self> {
        let (file, temporary) = match unnamed(dir, mode) {
            Ok(file) => (file, None),
            Err(error) if lacks_tmpfile(&error) => {
                let (file, temporary) = named(dir, name, mode).map_err(|error| cannot_write(&shown, error))?;
                (file, Some(temporary))
            }
            Err(error) => return Err(cannot_write(&shown, error)),
        };
        let replacement =
            Replacement { file, temporary, dir: dir.to_path_buf(), name: name.to_string(), shown, committed: false };
        match settle(&replacement.file, mode, owner) {
            Ok(()) => Ok(replacement),
            Err(error) => Err(cannot_write(&replacement.shown, error)),
        }
    }

    /// Whether the temporary file has no name yet, so that keeping it costs nothing if the process dies.
    pub(crate) fn is_unnamed(&self) -> bool {
        self.temporary.is_none()
    }

    /// Writes `contents`, flushes them to disk, and renames the file over its target.
    pub(crate) fn commit(mut self, contents: &[u8]) -> io::Result<()> {
        let written = self.file.write_all(contents).and_then(|()| self.file.sync_all()).and_then(|()| self.publish());
        self.committed = written.is_ok();
        written.map_err(|error| cannot_write(&self.shown, error))
    }

    /// Gives the written file its name: a temporary one first (if it has none), then the target's, by a rename.
    fn publish(&mut self) -> io::Result<()> {
        if self.temporary.is_none() {
            self.temporary = Some(name_unnamed(&self.file, &self.dir, &self.name)?);
        }
        match &self.temporary {
            Some(temporary) => fs::rename(temporary, self.dir.join(&self.name)),
            None => Err(io::Error::other("the temporary file has no name")),
        }
    }
}

impl Drop for Replacement {
    fn drop(&mut self) {
        if let (false, Some(temporary)) = (self.committed, &self.temporary) {
            let _ = fs::remove_file(temporary);
        }
    }
}

/// An unnamed file in `dir` (`O_TMPFILE`), with `mode`.
fn unnamed(dir: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new().write(true).mode(mode).custom_flags(libc::O_TMPFILE).open(dir)
}

/// Whether `O_TMPFILE` failed because the file system (or the kernel) does not offer it.
fn lacks_tmpfile(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL))
}

/// A new file `.NAME.<random>` in `dir`, created with `O_EXCL` under an unpredictable name.
fn named(dir: &Path, name: &str, mode: u32) -> io::Result<(File, PathBuf)> {
    for _ in 0..NAME_ATTEMPTS {
        let temporary = dir.join(format!(".{name}.{}", random_hex()));
        match OpenOptions::new().write(true).create_new(true).mode(mode).custom_flags(libc::O_NOFOLLOW).open(&temporary)
        {
            Ok(file) => return Ok((file, temporary)),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(ErrorKind::AlreadyExists, "every temporary name tried was taken"))
}

/// Links the unnamed `file` into `dir` as `.NAME.<random>` and returns that path. Through `/proc/self/fd`, as
/// open(2) documents for `O_TMPFILE`: the other way, `AT_EMPTY_PATH`, needs `CAP_DAC_READ_SEARCH`.
fn name_unnamed(file: &File, dir: &Path, name: &str) -> io::Result<PathBuf> {
    use rustix::fs::{AtFlags, CWD, linkat};
    use std::os::fd::AsRawFd;
    let source = format!("/proc/self/fd/{}", file.as_raw_fd());
    for _ in 0..NAME_ATTEMPTS {
        let temporary = dir.join(format!(".{name}.{}", random_hex()));
        match linkat(CWD, source.as_str(), CWD, &temporary, AtFlags::SYMLINK_FOLLOW) {
            Ok(()) => return Ok(temporary),
            Err(error) if error == rustix::io::Errno::EXIST => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(io::Error::new(ErrorKind::AlreadyExists, "every temporary name tried was taken"))
}

/// Replaces the file at `path` (outside the state directory, e.g. the metrics file) with `contents` atomically,
/// with mode `mode`, the same way as [`StateDir::write`].
pub(crate) fn replace_file(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|name| name.to_str()).ok_or_else(|| {
        io::Error::new(ErrorKind::InvalidInput, format!("cannot write {}: not a file name", path.display()))
    })?;
    Replacement::create(dir, name, mode, None, path.to_path_buf())?.commit(contents)
}

/// Reads the regular file at `path` (at most `limit` bytes), never through a symbolic link; `None` when missing.
pub(crate) fn read_file(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    match open_regular(path, path)? {
        Some((file, metadata)) => read_bounded(file, &metadata, path, limit).map(Some),
        None => Ok(None),
    }
}

pub(super) fn cannot_write(shown: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("cannot write {}: {error}", shown.display()))
}

/// Sets a new file's exact mode (the umask may have taken bits away) and hands it to `owner`.
pub(super) fn settle(file: &File, mode: u32, owner: Option<(u32, u32)>) -> io::Result<()> {
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(file, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// Opens an existing regular file without following a symbolic link; `None` when missing.
pub(super) fn open_regular(path: &Path, shown: &Path) -> io::Result<Option<(File, Metadata)>> {
    let file = match OpenOptions::new().read(true).custom_flags(NO_FOLLOW).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(explain(error, shown)),
    };
    let metadata = file.metadata().map_err(|error| explain(error, shown))?;
    if !metadata.is_file() {
        return Err(io::Error::other(format!("{} is not a regular file", shown.display())));
    }
    Ok(Some((file, metadata)))
}

/// Reads an opened file, refusing one larger than `limit` bytes (it is no file anycastd wrote).
pub(super) fn read_bounded(file: File, metadata: &Metadata, shown: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let too_large = || {
        io::Error::new(
            ErrorKind::InvalidData,
            format!("{} is larger than {}: no file anycastd writes is that large", shown.display(), size(limit)),
        )
    };
    if metadata.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|error| explain(error, shown))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// A size limit as a person writes it.
fn size(bytes: u64) -> String {
    match bytes {
        _ if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) => format!("{} MiB", bytes >> 20),
        _ if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) => format!("{} KiB", bytes >> 10),
        _ => format!("{bytes} bytes"),
    }
}

/// An open error with the file's name, and what to do when it is a symbolic link.
pub(super) fn explain(error: io::Error, shown: &Path) -> io::Error {
    if error.raw_os_error() == Some(libc::ELOOP) {
        return refuse_link(error, shown);
    }
    io::Error::new(error.kind(), format!("cannot open {}: {error}", shown.display()))
}

/// What to do about a file that `O_NOFOLLOW` refused to open; any other error as it is.
pub(super) fn refuse_link(error: io::Error, shown: &Path) -> io::Error {
    if error.raw_os_error() != Some(libc::ELOOP) {
        return error;
    }
    io::Error::other(format!(
        "{} is a symbolic link: anycastd follows none in its state directory; remove it",
        shown.display()
    ))
}

pub(super) fn is_read_only_fs(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EROFS)
}

/// 64 random bits in hex, from the kernel's random source (getrandom(2): no file to open, so nothing planted in a
/// chroot's /dev can stand in for it). Should it fail, the per-process random keys of std's hasher stand in:
/// `O_EXCL` already makes a planted name harmless, randomness only keeps it from blocking every attempt.
pub(super) fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    let filled = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
    let value = if filled.is_ok_and(|filled| filled == bytes.len()) {
        u64::from_ne_bytes(bytes)
    } else {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish()
    };
    format!("{value:016x}")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, symlink};

    use super::*;
    use crate::state::StateDir;

    use crate::state::scratch;

    #[test]
    fn files_are_replaced_through_new_private_files_and_never_through_links() {
        let dir = scratch("files");
        let state = StateDir::create(&dir.join("state")).expect("created");
        assert_eq!(fs::metadata(dir.join("state")).expect("stat").mode() & 0o777, 0o700);
        state.write("a.json", b"one").expect("written");
        assert_eq!(state.read("a.json", 16).expect("read"), Some(b"one".to_vec()));
        assert_eq!(fs::metadata(dir.join("state/a.json")).expect("stat").mode() & 0o777, 0o600);
        let error = state.read("a.json", 2).expect_err("over the limit");
        assert!(error.to_string().ends_with("is larger than 2 bytes: no file anycastd writes is that large"));
        symlink(dir.join("victim"), dir.join("state/b.json")).expect("planted");
        let error = state.read("b.json", 16).expect_err("not followed");
        assert!(
            error
                .to_string()
                .ends_with("b.json is a symbolic link: anycastd follows none in its state directory; remove it")
        );
        state.write("b.json", b"two").expect("the link is replaced, not followed");
        assert!(!dir.join("victim").exists());
        assert_eq!(state.read("b.json", 16).expect("read"), Some(b"two".to_vec()));
        let leftovers: Vec<_> =
            fs::read_dir(dir.join("state")).expect("list").flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "no temporary file left: {leftovers:?}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(1 << 20), "1 MiB");
        assert_eq!(size(64 << 10), "64 KiB");
        assert_eq!(size(100), "100 bytes");
    }
}
