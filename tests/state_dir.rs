//! The state directory as an attacker or an unlucky operator meets it (issue 11): what anycastd writes there and
//! with which mode, what it trusts of what it finds there, and what it still does when it cannot use it.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use support::env::{Env, SEED_CONFIG};

/// Every file below `dir`, with its path.
fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the state directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_below(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("stat").mode() & 0o7777
}

#[test]
fn a_check_password_never_lands_in_the_state_directory() {
    let env = Env::new();
    env.cabourotte.require_basic_auth("anycast", "s3cr3t-pw");
    let with_auth = format!("http://anycast:s3cr3t-pw@127.0.0.1:{}", env.cabourotte.port());
    env.config(&SEED_CONFIG.replace("{url}", &with_auth));
    // The cache an older anycastd left behind, with the password in plain text.
    std::fs::create_dir_all(env.state_dir()).expect("state dir");
    std::fs::write(env.state_dir().join("config-cache.json"), format!(r#"{{"url": "{with_auth}"}}"#))
        .expect("an old cache");
    assert_eq!(env.run(&["apply"]).code, 0);
    assert_eq!(env.run(&["apply"]).code, 0);
    assert_eq!(env.run(&["withdraw-all", "--reason", "test"]).code, 0);
    assert!(env.networks().is_empty());
    let files = files_below(&env.state_dir());
    assert!(files.iter().any(|file| file.ends_with("maintenance.json")), "{files:?}");
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("read")).into_owned();
        assert!(!text.contains("s3cr3t-pw"), "{} holds the password: {text}", file.display());
    }
}

#[test]
fn the_state_directory_is_created_0700_and_its_files_0600() {
    let env = Env::new();
    std::fs::set_permissions(&env.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(env.run(&["apply"]).code, 0);
    assert_eq!(env.run(&["withdraw-all"]).code, 0);
    assert_eq!(mode(&env.state_dir()), 0o700, "the state directory");
    let files = files_below(&env.state_dir());
    let names: Vec<_> = files.iter().filter_map(|file| file.file_name()?.to_str()).collect();
    assert_eq!(names, ["config-cache.json", "lock", "maintenance.json", "state.json"]);
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}
