//! The one file of BIRD's configuration that anycastd owns: rendered from what should be announced, replaced
//! atomically, read back bounded.
//!
//! BIRD reads it at every `configure` (anycastd's or the operator's) and at start-up, so it must always be whole: a
//! half-written file would make bird.conf fail to parse, or announce half a set. It is replaced by a rename, and
//! given mode 0644 whatever the umask (the units run with `UMask=0077`), since BIRD runs as user bird. Its directory
//! (`/run/anycastd-bird`, made by tmpfiles.d) must exist before BIRD starts, since `include` of a glob over a missing
//! directory is fatal.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{BirdNet, BirdRoutes, protocol_name};
use crate::bounded::Limit;
use crate::escape::escape;

/// The first line of the file, and all of it when nothing is announced (an empty file is valid for BIRD).
pub const HEADER: &str = "# Written by anycastd: do not edit. One protocol per announced prefix; nothing else.\n";

/// The file's mode: BIRD (user bird) reads it; nobody but anycastd writes it.
const MODE: u32 = 0o644;

/// The largest file [`read`] accepts: a line is at most about 200 bytes, so 20,000 prefixes make 4 MB.
const MAX_FILE: Limit = Limit(16 * 1024 * 1024);

/// A protocol's preference: above the 240 of `protocol direct`, which wins over a default static route (200) when
/// the service address is also on lo, and then nothing of anycastd's is exported (EVIDENCE.md, `pref.py`).
const PREFERENCE: u32 = 250;

/// Why anycastd's file could not be written or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedFileError {
    /// The configured path does not end in a file name.
    NotAFile(PathBuf),
    /// The directory does not exist.
    NoDirectory(PathBuf),
    /// Group or others may write the directory: they could replace anycastd's file with announcements of theirs.
    DirectoryWritableByOthers {
        /// The directory.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Writing failed (the operating system's reason, with the path).
    Write(String),
    /// Reading failed: a symbolic link, not a regular file, too large, not UTF-8... (with the path).
    Read(String),
}

impl fmt::Display for OwnedFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnedFileError::NotAFile(path) => write!(f, "{} does not name a file for BIRD", shown(path)),
            OwnedFileError::NoDirectory(dir) => write!(
                f,
                "the directory {} does not exist: create it (tmpfiles.d: `d {} 0755 anycastd anycastd -`); it must \
                 exist before BIRD starts",
                shown(dir),
                shown(dir)
            ),
            OwnedFileError::DirectoryWritableByOthers { dir, mode } => write!(
                f,
                "refusing to write BIRD's file in {} (mode {mode:04o}): its group or others could replace it with \
                 announcements of their own; make it writable by its owner only (chmod go-w)",
                shown(dir)
            ),
            OwnedFileError::Write(reason) | OwnedFileError::Read(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for OwnedFileError {}

fn shown(path: &Path) -> String {
    escape(&path.display().to_string()).into_owned()
}

/// The file's text for what should be in BIRD's tables: the header, then one protocol per prefix in the order of
/// the prefixes (IPv4 first), so that the same set always gives the same bytes.
pub fn render(routes: &BirdRoutes) -> String {
    let mut text = String::from(HEADER);
    for (net, route) in routes {
        text.push_str(&protocol_line(net, route.draining));
    }
    text
}

/// `protocol static anycastd_203_0_113_53_32 { ipv4 { preference 250; }; route 203.0.113.53/32 blackhole; }`, with
/// `table blue4;` before the preference in a table other than the master one. A blackhole route needs no next hop,
/// and BGP sends the peer BIRD's own address anyway.
fn protocol_line(net: &BirdNet, draining: bool) -> String {
    let prefix = &net.prefix;
    let family = prefix.family().name();
    let table = net.table.as_ref().map(|table| format!("table {table}; ")).unwrap_or_default();
    let attributes = if draining { " { anycastd_draining = 1; }" } else { "" };
    format!(
        "protocol static {} {{ {family} {{ {table}preference {PREFERENCE}; }}; route {prefix} blackhole{attributes}; }}\n",
        protocol_name(net)
    )
}

/// Replaces the file at `path` with the text for `routes`, atomically (a new file renamed over it: a symbolic link
/// at `path` is replaced, never followed), mode 0644. Its directory must exist and be writable by its owner only.
pub fn write(path: &Path, routes: &BirdRoutes) -> Result<(), OwnedFileError> {
    let dir = directory(path)?;
    check_directory(dir)?;
    crate::state::replace_file(path, render(routes).as_bytes(), MODE)
        .map_err(|error| OwnedFileError::Write(escape(&error.to_string()).into_owned()))
}

/// Whether anycastd could write its file at `path`: its folder exists, and only its owner may write it. For
/// `check --bird`, which writes nothing.
pub fn check_folder(path: &Path) -> Result<(), OwnedFileError> {
    check_directory(directory(path)?)
}

/// The directory of `path` (`.` for a bare name).
fn directory(path: &Path) -> Result<&Path, OwnedFileError> {
    if path.file_name().is_none() {
        return Err(OwnedFileError::NotAFile(path.to_path_buf()));
    }
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => Ok(parent),
        _ => Ok(Path::new(".")),
    }
}

/// Refuses a directory its group or others may write. The directory itself may be reached through a symbolic link
/// (`/var/run` is one to `/run`): who can write in it is what matters.
fn check_directory(dir: &Path) -> Result<(), OwnedFileError> {
    let metadata = match fs::metadata(dir) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(OwnedFileError::NoDirectory(dir.to_path_buf()));
        }
        Err(error) => return Err(OwnedFileError::Write(format!("cannot inspect {}: {error}", shown(dir)))),
    };
    if !metadata.is_dir() {
        return Err(OwnedFileError::Write(format!("{} is not a directory", shown(dir))));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(OwnedFileError::DirectoryWritableByOthers { dir: dir.to_path_buf(), mode });
    }
    Ok(())
}

/// The file's text as it is now, `None` when there is none: compared with what anycastd last rendered, it tells a
/// hand edit. Never through a symbolic link, never waiting on a FIFO, at most 16 MiB.
pub fn read(path: &Path) -> Result<Option<String>, OwnedFileError> {
    let failed = |reason: String| OwnedFileError::Read(format!("cannot read {}: {reason}", shown(path)));
    let file = match OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            return Err(failed("it is a symbolic link, and anycastd writes a regular file there; remove it".into()));
        }
        Err(error) => return Err(failed(error.to_string())),
    };
    let metadata = file.metadata().map_err(|error| failed(error.to_string()))?;
    if !metadata.is_file() {
        return Err(failed("it is not a regular file".into()));
    }
    if metadata.len() > MAX_FILE.0 {
        return Err(failed(MAX_FILE.exceeded("it")));
    }
    MAX_FILE.read_to_string(file).map(Some).map_err(failed)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, symlink};

    use super::*;
    use crate::bird::BirdRoute;

    fn routes(prefixes: &[(&str, bool)]) -> BirdRoutes {
        prefixes
            .iter()
            .map(|(text, draining)| {
                let (prefix, table) = match text.split_once(' ') {
                    Some((prefix, table)) => (prefix, Some(table)),
                    None => (*text, None),
                };
                let net = BirdNet::new(crate::config::Prefix::parse(prefix).expect("a prefix"), table);
                (net, BirdRoute { draining: *draining })
            })
            .collect()
    }

    fn scratch(name: &str, mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("anycastd-bird-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).expect("chmod");
        dir
    }

    /// The file of EVIDENCE.md's recommendation, byte for byte, whatever order the prefixes come in.
    #[test]
    fn the_file_of_the_evidence() {
        let announced = routes(&[("2001:db8::53/128", false), ("203.0.113.54/32", true), ("203.0.113.53/32", false)]);
        assert_eq!(
            render(&announced),
            "# Written by anycastd: do not edit. One protocol per announced prefix; nothing else.\n\
             protocol static anycastd_203_0_113_53_32 { ipv4 { preference 250; }; route 203.0.113.53/32 blackhole; }\n\
             protocol static anycastd_203_0_113_54_32 { ipv4 { preference 250; }; route 203.0.113.54/32 blackhole { \
             anycastd_draining = 1; }; }\n\
             protocol static anycastd_2001_db8__53_128 { ipv6 { preference 250; }; route 2001:db8::53/128 blackhole; \
             }\n"
        );
    }

    /// A prefix in a VRF's table: its protocol puts the route there, and its name says which table.
    #[test]
    fn a_prefix_in_another_table_names_it() {
        let announced = routes(&[("203.0.113.53/32 blue4", true), ("203.0.113.53/32", false)]);
        assert_eq!(
            render(&announced),
            "# Written by anycastd: do not edit. One protocol per announced prefix; nothing else.\n\
             protocol static anycastd_203_0_113_53_32 { ipv4 { preference 250; }; route 203.0.113.53/32 blackhole; }\n\
             protocol static anycastd_203_0_113_53_32_t_blue4 { ipv4 { table blue4; preference 250; }; route \
             203.0.113.53/32 blackhole { anycastd_draining = 1; }; }\n"
        );
    }

    #[test]
    fn nothing_announced_is_the_header_alone() {
        assert_eq!(render(&BirdRoutes::new()), HEADER);
    }

    #[test]
    fn the_file_is_replaced_with_mode_0644_and_a_link_is_not_followed() {
        let dir = scratch("write", 0o755);
        let path = dir.join("anycastd.conf");
        let victim = dir.join("victim");
        fs::write(&victim, "the operator's").expect("victim");
        symlink(&victim, &path).expect("planted link");
        let announced = routes(&[("203.0.113.53/32", false)]);
        write(&path, &announced).expect("written");
        assert_eq!(fs::read_to_string(&victim).expect("victim"), "the operator's");
        let metadata = fs::symlink_metadata(&path).expect("stat");
        assert!(metadata.is_file());
        assert_eq!(metadata.mode() & 0o7777, 0o644);
        assert_eq!(read(&path), Ok(Some(render(&announced))));
        write(&path, &BirdRoutes::new()).expect("written again");
        assert_eq!(read(&path), Ok(Some(HEADER.to_string())));
        let mut names: Vec<_> = fs::read_dir(&dir).expect("list").flatten().map(|entry| entry.file_name()).collect();
        names.sort();
        assert_eq!(names, ["anycastd.conf", "victim"], "no temporary file left");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        for mode in [0o775, 0o757, 0o1777] {
            let dir = scratch("shared", mode);
            let path = dir.join("anycastd.conf");
            let error = write(&path, &BirdRoutes::new()).expect_err("refused");
            assert_eq!(error, OwnedFileError::DirectoryWritableByOthers { dir: dir.clone(), mode });
            assert_eq!(read(&path), Ok(None), "nothing written");
            let _ = fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn a_missing_directory_says_how_to_make_it() {
        let dir = std::env::temp_dir().join(format!("anycastd-bird-file-missing-{}", std::process::id()));
        let error = write(&dir.join("anycastd.conf"), &BirdRoutes::new()).expect_err("no directory");
        assert_eq!(error, OwnedFileError::NoDirectory(dir.clone()));
        assert!(error.to_string().ends_with("0755 anycastd anycastd -`); it must exist before BIRD starts"));
        assert_eq!(write(Path::new("/"), &BirdRoutes::new()), Err(OwnedFileError::NotAFile(PathBuf::from("/"))));
    }

    #[test]
    fn reading_refuses_links_fifos_and_giants() {
        let dir = scratch("read", 0o755);
        symlink(dir.join("elsewhere"), dir.join("link.conf")).expect("link");
        let error = read(&dir.join("link.conf")).expect_err("a link");
        assert!(
            error.to_string().ends_with("it is a symbolic link, and anycastd writes a regular file there; remove it")
        );
        crate::bounded::make_fifo(&dir.join("fifo.conf"));
        assert!(read(&dir.join("fifo.conf")).expect_err("a FIFO").to_string().ends_with("it is not a regular file"));
        let giant = fs::File::create(dir.join("giant.conf")).expect("create");
        giant.set_len(MAX_FILE.0 + 1).expect("sparse");
        let error = read(&dir.join("giant.conf")).expect_err("too large");
        assert!(error.to_string().ends_with("it is larger than 16 MiB, the most anycastd reads"), "{error}");
        fs::write(dir.join("binary.conf"), b"\xff").expect("write");
        assert!(read(&dir.join("binary.conf")).expect_err("binary").to_string().ends_with("it is not UTF-8 text"));
        let _ = fs::remove_dir_all(&dir);
    }
}
