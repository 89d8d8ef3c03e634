//! The Debian package of the debug build and the cached Debian 12 root it is installed into, never on the host:
//! `scripts/package --dev` and `scripts/test-root`, shared by `tests/package.rs` (chroot) and `tests/units_live.rs`
//! (a booted systemd-nspawn container). Both need root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn source(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `command` and returns its output, failing the test with its stderr if it did not succeed.
pub fn succeed(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|error| panic!("{what}: cannot run: {error}"));
    assert!(output.status.success(), "{what}: {}\n{}{}", output.status, text(&output.stdout), text(&output.stderr));
    output
}

pub fn architecture() -> String {
    text(&succeed(Command::new("dpkg").arg("--print-architecture"), "dpkg --print-architecture").stdout)
        .trim()
        .to_string()
}

/// Whether this process runs as root, asked of `id` (the tests use no libc of their own).
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| text(&output.stdout).trim() == "0")
}

/// The package of the debug build, made once per test binary.
pub fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        assert!(is_root(), "the Debian package tests need root (mount, chroot, nspawn): run scripts/test as root");
        // cargo-deb deletes every anycastd_*.deb of its target directory: a release package built before must
        // survive the test's packaging.
        let release = source(&format!("target/debian/anycastd_0.0.0~earlier_{}.deb", architecture()));
        std::fs::create_dir_all(source("target/debian")).expect("create target/debian");
        std::fs::write(&release, "").expect("write a stand-in release package");
        let built = succeed(Command::new(source("scripts/package")).arg("--dev"), "scripts/package --dev");
        assert!(release.exists(), "scripts/package --dev deleted {}", release.display());
        let _ = std::fs::remove_file(&release);
        let path = source(text(&built.stdout).trim());
        assert_eq!(path, source(&format!("target/package-test/debian/anycastd_{VERSION}_{}.deb", architecture())));
        path
    })
}

/// The cached Debian 12 root (built once by `scripts/test-root`), read-only to every test.
pub fn test_root() -> String {
    let base = succeed(&mut Command::new(source("scripts/test-root")), "scripts/test-root");
    text(&base.stdout).trim().to_string()
}

/// The cached root seen through an overlay at `merged`: everything written goes to `upper`, and all of it goes away
/// on drop.
pub struct Overlay {
    pub dir: PathBuf,
    pub merged: PathBuf,
    pub upper: PathBuf,
}

impl Overlay {
    /// Mounts a fresh overlay of the test root under a temporary directory named after `name`.
    pub fn new(name: &str) -> Overlay {
        let base = test_root();
        let dir = std::env::temp_dir().join(format!("anycastd-{name}-{}", std::process::id()));
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for path in [&upper, &work, &merged] {
            std::fs::create_dir_all(path).expect("create the overlay's directories");
        }
        let options = format!("lowerdir={base},upperdir={},workdir={}", upper.display(), work.display());
        let overlay = Overlay { dir, merged, upper };
        succeed(Command::new("mount").args(["-t", "overlay", "overlay", "-o", &options]).arg(&overlay.merged), "mount");
        overlay
    }

    /// The host's path of `path` inside the root.
    pub fn path(&self, path: &str) -> PathBuf {
        self.merged.join(path.trim_start_matches('/'))
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        // A lazy unmount: a process that still has a file open in the root (a container being torn down) must not
        // leave the mount behind.
        let _ = Command::new("umount").arg("--lazy").arg(&self.merged).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
