//! Directory trust: what the state directory, and each file in it, can be trusted for.
//!
//! The directory is resolved once, following only symbolic links of root or the running user (systemd's
//! `/var/lib/anycastd` may be one), and refused if its group or others can write it: they could plant files there.
//! A file is trusted only if nobody but the running user or root can have written it ([`StateDir::read_trusted`]).
//! What root creates in a directory of the units' user is handed to that user, so the service can still use it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, Metadata, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use super::file::{
    NAME_ATTEMPTS, NO_FOLLOW, PRIVATE, Replacement, is_read_only_fs, open_regular, read_bounded, refuse_link, settle,
};

/// The mode of the state directory when anycastd creates it.
const PRIVATE_DIR: u32 = 0o700;

/// How many symbolic links resolving the directory may go through (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// The effective user ID of this process: whose files it may trust.
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A state directory that was checked: resolved through trusted links only, writable by its owner only.
#[derive(Debug)]
pub(crate) struct StateDir {
    /// The directory as the user named it, for messages.
    shown: PathBuf,
    /// The directory itself, every symbolic link on the way resolved.
    real: PathBuf,
    /// Its owner and group: files created here by another user are handed to them.
    uid: u32,
    gid: u32,
}

impl StateDir {
    /// Opens the state directory at `path`; `None` when it does not exist (there is nothing in it to read).
    pub(crate) fn open(path: &Path) -> io::Result<Option<StateDir>> {
        match resolve(path)? {
            Resolution::Found(real) => inspect(path, real).map(Some),
            Resolution::Missing { .. } => Ok(None),
        }
    }

    /// Opens the state directory at `path`, creating it (and its missing parents) with mode 0700.
    pub(crate) fn create(path: &Path) -> io::Result<StateDir> {
        if let Resolution::Missing { existing, rest } = resolve(path)? {
            DirBuilder::new().recursive(true).mode(PRIVATE_DIR).create(existing.join(rest)).map_err(|error| {
                io::Error::other(format!("cannot create the state directory {}: {error}", path.display()))
            })?;
        }
        match resolve(path)? {
            Resolution::Found(real) => inspect(path, real),
            Resolution::Missing { .. } => {
                Err(io::Error::other(format!("cannot create the state directory {}", path.display())))
            }
        }
    }

    /// Whether the directory belongs to the running user: only then can what it holds be trusted.
    pub(crate) fn is_own(&self) -> bool {
        self.uid == euid()
    }

    /// The uid the directory belongs to.
    pub(crate) fn owner(&self) -> u32 {
        self.uid
    }

    /// The path of file `name`, as the user would write it.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.shown.join(name)
    }

    /// Whether something (of any type) exists under `name`.
    pub(crate) fn exists(&self, name: &str) -> io::Result<bool> {
        match fs::symlink_metadata(self.real.join(name)) {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Reads file `name` (at most `limit` bytes); `None` when there is none.
    pub(crate) fn read(&self, name: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let shown = self.file(name);
        match open_regular(&self.real.join(name), &shown)? {
            Some((file, metadata)) => read_bounded(file, &metadata, &shown, limit).map(Some),
            None => Ok(None),
        }
    }

    /// Reads file `name` only if nobody but the running user (or root) can have written it: the directory and the
    /// file belong to the running user, the file has mode 0600 (or less) and no other name. `None` when there is
    /// none; an error says why the file is not trusted.
    ///
    /// Trust follows from who can have written the file. The directory is writable by its owner alone (checked
    /// when opened). In a directory that belongs to the running user, only that user and root can create, rename or
    /// remove entries, so a file there that belongs to the running user, and that neither its group nor others can
    /// write, was written by this user or by root: by anycastd itself, or by someone who could do anything anyway.
    /// In a directory that belongs to someone else (root's `apply` or `withdraw-all` in the directory of the units'
    /// user), the owner can put anything there, remove any file, or rename one of the running user's own files to
    /// another name: nothing there is trusted, not even the absence of a file. Root hands the files it creates in
    /// the service's directory to the service's user ([`StateDir::prepare`]), so the service trusts what root
    /// wrote, and root trusts nothing the service could have changed. The link count refuses a hard link to some
    /// other file of the running user.
    pub(crate) fn read_trusted(&self, name: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        match self.open_trusted(name)? {
            Some((file, metadata)) => read_bounded(file, &metadata, &self.file(name), limit).map(Some),
            None => Ok(None),
        }
    }

    /// Opens file `name` if it can be trusted, by the rule of [`StateDir::read_trusted`], for a reader that reads
    /// only part of it. `None` when there is none; an error says why it is not trusted.
    pub(crate) fn open_trusted(&self, name: &str) -> io::Result<Option<(File, Metadata)>> {
        let me = euid();
        if self.uid != me {
            return Err(io::Error::other(format!(
                "the state directory {} belongs to uid {}, not to this user (uid {me}): its owner can change what it holds",
                self.shown.display(),
                self.uid
            )));
        }
        let shown = self.file(name);
        let Some((file, metadata)) = open_regular(&self.real.join(name), &shown)? else {
            return Ok(None);
        };
        if metadata.uid() != me {
            return Err(io::Error::other(format!(
                "{} belongs to uid {}, not to this user (uid {me})",
                shown.display(),
                metadata.uid()
            )));
        }
        if metadata.mode() & 0o077 != 0 {
            return Err(io::Error::other(format!(
                "{} has mode {:04o}, not 0600",
                shown.display(),
                metadata.mode() & 0o7777
            )));
        }
        if metadata.nlink() != 1 {
            return Err(io::Error::other(format!("{} has other names (hard links)", shown.display())));
        }
        Ok(Some((file, metadata)))
    }

    /// Starts replacing file `name`: creates its temporary file now, so a directory that cannot be written is known
    /// before anything else is done. [`Replacement::commit`] then writes and renames it.
    pub(crate) fn prepare(&self, name: &str) -> io::Result<Replacement> {
        let owner = (self.uid != euid()).then_some((self.uid, self.gid));
        Replacement::create(&self.real, name, PRIVATE, owner, self.file(name))
    }

    /// Replaces file `name` with `contents` atomically.
    pub(crate) fn write(&self, name: &str, contents: &[u8]) -> io::Result<()> {
        self.prepare(name)?.commit(contents)
    }

    /// Removes the temporary files of `name` that a killed process left behind (`.NAME.<random>`, from an older
    /// anycastd or a file system without `O_TMPFILE`). Called under the run lock, for a file only written under it:
    /// no live process is writing one then.
    pub(crate) fn remove_leftovers(&self, name: &str) {
        let prefix = format!(".{name}.");
        let Ok(entries) = fs::read_dir(&self.real) else { return };
        for entry in entries.flatten() {
            let leftover = entry.file_name().to_str().is_some_and(|file| file.starts_with(&prefix));
            if leftover && entry.file_type().is_ok_and(|kind| kind.is_file()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Removes file `name` (a symbolic link itself, never its target); `false` when there was none.
    pub(crate) fn remove(&self, name: &str) -> io::Result<bool> {
        match fs::remove_file(self.real.join(name)) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => {
                Err(io::Error::new(error.kind(), format!("cannot remove {}: {error}", self.file(name).display())))
            }
        }
    }

    /// Opens file `name` for locking, creating it when missing. It is opened for writing when possible (the holder
    /// notes who it is); read-only when it belongs to someone else or the file system is read-only, as a lock needs
    /// no write access. It must be a regular file with no other name, since the holder truncates and writes it.
    pub(crate) fn open_lock(&self, name: &str) -> io::Result<File> {
        let path = self.real.join(name);
        let shown = self.file(name);
        for _ in 0..NAME_ATTEMPTS {
            let opened = match OpenOptions::new().read(true).write(true).custom_flags(NO_FOLLOW).open(&path) {
                Err(error) if error.kind() == ErrorKind::PermissionDenied || is_read_only_fs(&error) => {
                    OpenOptions::new().read(true).custom_flags(NO_FOLLOW).open(&path)
                }
                opened => opened,
            };
            let file = match opened {
                Ok(file) => file,
                Err(error) if error.kind() == ErrorKind::NotFound => match self.create_new(&path, &shown) {
                    Ok(file) => file,
                    Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
                    Err(error) => return Err(error),
                },
                Err(error) => return Err(refuse_link(error, &shown)),
            };
            let metadata = file.metadata()?;
            if !metadata.is_file() {
                return Err(io::Error::other(format!("{} is not a regular file; remove it", shown.display())));
            }
            if metadata.nlink() != 1 {
                return Err(io::Error::other(format!(
                    "{} has other names (hard links), whose content anycastd would overwrite; remove it",
                    shown.display()
                )));
            }
            return Ok(file);
        }
        Err(io::Error::other(format!("cannot create {}: it keeps appearing and disappearing", shown.display())))
    }

    /// Creates file `path` with mode 0600, failing if anything exists there, and hands it to the directory's owner.
    fn create_new(&self, path: &Path, shown: &Path) -> io::Result<File> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(PRIVATE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|error| refuse_link(error, shown))?;
        let owner = (self.uid != euid()).then_some((self.uid, self.gid));
        if let Err(error) = settle(&file, PRIVATE, owner) {
            let _ = fs::remove_file(path);
            return Err(error);
        }
        Ok(file)
    }
}

/// Where resolving a path ended.
#[derive(Debug, PartialEq, Eq)]
enum Resolution {
    /// The directory exists at this path, with no symbolic link left in it.
    Found(PathBuf),
    /// `existing` exists; `rest` below it does not.
    Missing { existing: PathBuf, rest: PathBuf },
}

/// Resolves `path` component by component, following only symbolic links that belong to root or to the running
/// user: a link that belongs to anyone else could be pointed anywhere by them.
fn resolve(path: &Path) -> io::Result<Resolution> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let here = std::env::current_dir()
            .map_err(|error| io::Error::other(format!("cannot find the current directory: {error}")))?;
        here.join(path)
    };
    let mut pending: VecDeque<OsString> = names(&absolute).collect();
    let mut real = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            real.pop();
            continue;
        }
        let next = real.join(&name);
        let metadata = match fs::symlink_metadata(&next) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                let rest = std::iter::once(name).chain(pending).collect();
                return Ok(Resolution::Missing { existing: real, rest });
            }
            Err(error) => return Err(io::Error::other(format!("cannot look up {}: {error}", next.display()))),
        };
        if !metadata.file_type().is_symlink() {
            real = next;
            continue;
        }
        let me = euid();
        if metadata.uid() != 0 && metadata.uid() != me {
            return Err(io::Error::other(format!(
                "the state directory {} goes through the symbolic link {}, which belongs to uid {}: anycastd follows \
                 only links that belong to root or to itself (uid {me}); replace the link, or give the real directory",
                path.display(),
                next.display(),
                metadata.uid()
            )));
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(io::Error::other(format!(
                "the state directory {} goes through too many symbolic links",
                path.display()
            )));
        }
        let target = fs::read_link(&next)
            .map_err(|error| io::Error::other(format!("cannot read the link {}: {error}", next.display())))?;
        if target.is_absolute() {
            real = PathBuf::from("/");
        }
        for name in names(&target).collect::<Vec<_>>().into_iter().rev() {
            pending.push_front(name);
        }
    }
    Ok(Resolution::Found(real))
}

/// The names of a path's components, `..` included, without the root and `.`.
fn names(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// Checks the resolved directory: really a directory (opened without following a link swapped in meanwhile), and
/// writable by its owner only.
fn inspect(shown: &Path, real: PathBuf) -> io::Result<StateDir> {
    let named = || {
        if real == shown { shown.display().to_string() } else { format!("{} ({})", shown.display(), real.display()) }
    };
    let opened = OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW).open(&real);
    let metadata = opened
        .and_then(|dir| dir.metadata())
        .map_err(|error| io::Error::other(format!("cannot open the state directory {}: {error}", named())))?;
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(io::Error::other(format!(
            "the state directory {} has mode {mode:04o}: its group or others can write it, and so plant files that \
             anycastd would read; make it writable by its owner only: chmod go-w {}",
            named(),
            real.display()
        )));
    }
    Ok(StateDir { shown: shown.to_path_buf(), real, uid: metadata.uid(), gid: metadata.gid() })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    use crate::state::scratch;

    #[test]
    fn links_of_root_or_the_running_user_are_followed_relative_to_where_they_are() {
        let dir = scratch("links");
        fs::create_dir_all(dir.join("private/anycastd/sub")).expect("dirs");
        symlink("private/anycastd", dir.join("anycastd")).expect("link");
        let resolved = resolve(&dir.join("anycastd/./sub/..")).expect("resolved");
        assert_eq!(resolved, Resolution::Found(dir.join("private/anycastd")));
        let missing = resolve(&dir.join("anycastd/new/deeper")).expect("resolved");
        assert_eq!(missing, Resolution::Missing { existing: dir.join("private/anycastd"), rest: "new/deeper".into() });
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_others_can_write_is_refused_with_what_to_do() {
        let dir = scratch("mode");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).expect("chmod");
        let error = StateDir::open(&dir).expect_err("refused");
        assert_eq!(
            error.to_string(),
            format!(
                "the state directory {0} has mode 0777: its group or others can write it, and so plant files that \
                 anycastd would read; make it writable by its owner only: chmod go-w {0}",
                dir.display()
            )
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_others_could_have_changed_is_not_trusted() {
        let dir = scratch("trust");
        let state = StateDir::create(&dir).expect("opened");
        fs::write(dir.join("loose.json"), "{}").expect("written");
        fs::set_permissions(dir.join("loose.json"), fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = state.read_trusted("loose.json", 16).expect_err("not trusted");
        assert!(error.to_string().ends_with("loose.json has mode 0644, not 0600"), "{error}");
        state.write("kept.json", b"{}").expect("written");
        fs::hard_link(dir.join("kept.json"), dir.join("other-name")).expect("linked");
        let error = state.read_trusted("kept.json", 16).expect_err("not trusted");
        assert!(error.to_string().ends_with("kept.json has other names (hard links)"), "{error}");
        assert_eq!(state.read_trusted("missing.json", 16).ok(), Some(None));
        let _ = fs::remove_dir_all(&dir);
    }
}
