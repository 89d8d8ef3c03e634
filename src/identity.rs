//! Root at the shell acts as the units do.
//!
//! The shipped units run anycastd as user `anycastd` (its group, and `frrvty` for vtysh), and the state directory
//! `/var/lib/anycastd` is that user's. Root trusts nothing that user could have written there (docs/security.md:
//! whoever owns the directory can forge the rise/fall counts), so root's `plan`, `apply` and `withdraw-all` used no
//! counts and warned so, twice per command. Now root, before it touches a state directory of the units' user,
//! becomes that user exactly as systemd makes it: its uid, its primary group, the groups `/etc/group` gives it, and
//! the units' `SupplementaryGroups=`. It then trusts the directory as the units do, for the same reason they may;
//! it gains nothing from that user, it gives up root. What it gives up: a file only root can read (a `-c` or
//! `--running-config` path under `/root`, a root-only `key_file`) is unreadable, as it is to the units, and hooks run
//! as `anycastd`, as they do under the units.
//!
//! The uid that started the command is kept first, for the maintenance marker's "by".

use std::io;
use std::path::Path;
use std::sync::OnceLock;

use crate::bounded;
use crate::state::StateDir;

/// The units' `User=` (and `Group=`): tests/systemd_units.rs checks that the shipped units say the same.
pub const UNITS_USER: &str = "anycastd";
/// The units' `SupplementaryGroups=`, each taken when the group exists (FRR's `frrvty` comes with FRR).
pub const UNITS_SUPPLEMENTARY_GROUPS: &[&str] = &["frrvty"];
/// The groups the README's drop-ins add to the units (BIRD's `bird`, for its control socket), each taken when it
/// exists: root then reaches BIRD as the units do once the drop-in is there.
pub const UNITS_OPTIONAL_GROUPS: &[&str] = &["bird"];

/// Where users and groups are looked up (users only a directory service knows are not found).
const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";

/// The longest user name taken from `/etc/passwd`: anything longer is not a name.
const MAX_NAME: usize = 256;

/// The effective uid when the command started, before it took the units' identity.
static INVOKED_AS: OnceLock<u32> = OnceLock::new();

/// Who this command runs as.
#[derive(Debug, PartialEq, Eq)]
pub enum Identity {
    /// As it was started: not by root, or in a state directory that is not the units' user's (missing, root's,
    /// another user's, or no `anycastd` user on this host).
    AsInvoked,
    /// Root became the units' user, whose state directory this is.
    UnitsUser,
    /// Root could not become the units' user (why): it goes on as root, trusting nothing in the directory.
    StayedRoot(String),
}

/// Makes root the units' user when `state_dir` is that user's; see the module's documentation.
pub fn adopt_units_identity(state_dir: &Path) -> Identity {
    let me = rustix::process::geteuid().as_raw();
    let _ = INVOKED_AS.set(me);
    if me != 0 {
        return Identity::AsInvoked;
    }
    let Some(account) = read_database(PASSWD).and_then(|passwd| account_named(&passwd, UNITS_USER)) else {
        return Identity::AsInvoked;
    };
    let owner = StateDir::open(state_dir).ok().flatten().map(|dir| dir.owner());
    if owner != Some(account.uid) || account.uid == 0 {
        return Identity::AsInvoked;
    }
    let groups = read_database(GROUP).map_or_else(
        || vec![account.gid],
        |group| {
            let wanted: Vec<&str> = UNITS_SUPPLEMENTARY_GROUPS.iter().chain(UNITS_OPTIONAL_GROUPS).copied().collect();
            group_ids(&group, UNITS_USER, account.gid, &wanted)
        },
    );
    match become_user(account.uid, account.gid, &groups) {
        Ok(()) => Identity::UnitsUser,
        Err(error) => Identity::StayedRoot(format!(
            "cannot act as user {UNITS_USER}, whose state directory {} is: {error}",
            state_dir.display()
        )),
    }
}

/// Settles what anycastd keeps of its capabilities, before any thread or child: its children (vtysh, hooks, exec
/// checks) get none, even when the unit grants CAP_NET_ADMIN as an ambient capability; and a command that never
/// changes the host's addresses (`changes_addresses` false: all but `apply`, `withdraw-all` and `run`) gives
/// CAP_NET_ADMIN up too. Returns why it could not.
pub fn settle_capabilities(changes_addresses: bool) -> Result<(), String> {
    crate::host::keep_from_children()?;
    if changes_addresses { Ok(()) } else { crate::host::drop_net_admin() }
}

/// The effective uid that started the command (the current one when no identity was taken).
pub(crate) fn invoking_uid() -> u32 {
    INVOKED_AS.get().copied().unwrap_or_else(|| rustix::process::geteuid().as_raw())
}

/// The name of `uid` in `/etc/passwd`, if it has a plausible one.
pub(crate) fn user_name_of(uid: u32) -> Option<String> {
    read_database(PASSWD).and_then(|passwd| account_of(&passwd, uid)).map(|account| account.name)
}

/// One user of passwd(5).
#[derive(Debug, PartialEq, Eq)]
struct Account {
    name: String,
    uid: u32,
    gid: u32,
}

/// Reads a user or group database, bounded; `None` when it cannot be read.
fn read_database(path: &str) -> Option<String> {
    let file = bounded::open_regular(Path::new(path)).ok()?;
    bounded::PASSWD.read_to_string(file).ok()
}

/// The users of a passwd(5) text, in order. A comment, a NIS `+`/`-` entry or a malformed line is skipped, and so is
/// a name that is empty, longer than [`MAX_NAME`] bytes or holds a control character: whoever wrote the file, what
/// anycastd takes from it is a name.
fn accounts(passwd: &str) -> impl Iterator<Item = Account> + '_ {
    passwd.lines().filter_map(|line| {
        let mut fields = line.split(':');
        let (name, _password, uid, gid) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        let plausible = !name.is_empty()
            && name.len() <= MAX_NAME
            && !name.starts_with(['#', '+', '-'])
            && !name.chars().any(char::is_control);
        plausible.then_some(Account { name: name.to_string(), uid: uid.parse().ok()?, gid: gid.parse().ok()? })
    })
}

/// The first user named `name`.
fn account_named(passwd: &str, name: &str) -> Option<Account> {
    accounts(passwd).find(|account| account.name == name)
}

/// The first user with `uid`.
fn account_of(passwd: &str, uid: u32) -> Option<Account> {
    accounts(passwd).find(|account| account.uid == uid)
}

/// The groups systemd gives a unit with `User=user` and `SupplementaryGroups=extra`: the user's primary group, every
/// group of group(5) that lists the user as a member, and the groups named in `extra` that exist. Sorted, once each.
fn group_ids(group: &str, user: &str, primary: u32, extra: &[&str]) -> Vec<u32> {
    let mut ids = vec![primary];
    for line in group.lines().filter(|line| !line.starts_with(['#', '+', '-'])) {
        let mut fields = line.split(':');
        let (Some(name), Some(_password), Some(gid), Some(members)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(gid) = gid.parse::<u32>() else { continue };
        if extra.contains(&name) || members.split(',').any(|member| member == user) {
            ids.push(gid);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Gives up root for `uid`, `gid` and `groups` (real, effective and saved IDs alike), then checks that root cannot
/// be taken back. Called before the command starts any thread or child, so the whole process changes.
fn become_user(uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
    let groups: Vec<libc::gid_t> = groups.to_vec();
    // KEEPCAPS keeps the permitted set across setresuid, so that CAP_NET_ADMIN alone can be kept below: the
    // service addresses of the `interface` key need it, as the units' address drop-in grants it.
    // SAFETY: setgroups reads `groups.len()` IDs from a live, initialised buffer; the other calls take integers.
    let changed = unsafe {
        libc::prctl(
            libc::PR_SET_KEEPCAPS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        ) == 0
            && libc::setgroups(groups.len(), groups.as_ptr()) == 0
            && libc::setresgid(gid, gid, gid) == 0
            && libc::setresuid(uid, uid, uid) == 0
    };
    if !changed {
        return Err(io::Error::last_os_error());
    }
    crate::host::keep_only_net_admin().map_err(io::Error::other)?;
    // SAFETY: prctl(2) with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_SET_KEEPCAPS,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    // SAFETY: as above; this call must fail, as the user has no way back to root.
    if unsafe { libc::setresuid(0, 0, 0) } == 0 {
        return Err(io::Error::other("root could be taken back"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD_TEXT: &str = "# users\n\
                               +::::::\n\
                               root:x:0:0:root:/root:/bin/bash\n\
                               broken line\n\
                               anycastd:x:998:997::/var/lib/anycastd:/usr/sbin/nologin\n\
                               evil\u{1b}[2J:x:1000:1000::/home/evil:/bin/sh\n\
                               alice:x:1000:1000:Alice:/home/alice:/bin/bash\n\
                               :x:1001:1001::/:/bin/sh\n\
                               bob:x:notanumber:0::/:/bin/sh\n";

    /// Users are looked up in passwd; what cannot be a name is skipped, and an unknown uid has no name.
    #[test]
    fn users_are_looked_up_in_passwd() {
        let name = |uid| account_of(PASSWD_TEXT, uid).map(|account| account.name);
        assert_eq!(name(0).as_deref(), Some("root"));
        assert_eq!(name(998).as_deref(), Some("anycastd"));
        assert_eq!(name(1000).as_deref(), Some("alice"), "a name with a control character is skipped");
        assert_eq!(name(1001), None, "an empty name is none");
        assert_eq!(name(4242), None);
        let long = format!("{}:x:7:7::/:/bin/sh\n", "n".repeat(MAX_NAME + 1));
        assert_eq!(account_of(&long, 7), None, "too long");
        assert_eq!(
            account_named(PASSWD_TEXT, "anycastd"),
            Some(Account { name: "anycastd".into(), uid: 998, gid: 997 })
        );
        assert_eq!(account_named(PASSWD_TEXT, "bob"), None, "its uid is not a number");
    }

    /// The units' groups: the primary one, those that list the user, and the units' supplementary ones that exist.
    #[test]
    fn the_units_groups_are_the_primary_the_memberships_and_the_supplementary_ones() {
        let group = "root:x:0:\n\
                     frrvty:x:113:frr\n\
                     bird:x:120:anycastd,frr\n\
                     anycastdx:x:121:anycastdx\n\
                     #comment:x:5:anycastd\n\
                     broken:x:notanumber:anycastd\n\
                     anycastd:x:997:\n";
        assert_eq!(group_ids(group, "anycastd", 997, &["frrvty", "missing"]), [113, 120, 997]);
        assert_eq!(group_ids("", "anycastd", 997, &["frrvty"]), [997], "no group file: the primary group alone");
    }
}
