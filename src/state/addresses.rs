//! The record of the addresses anycastd added to the host (a prefix's `interface` key): the second half of the
//! record of what anycastd owns, beside `managed.rs`'s prefixes.
//!
//! Only an address anycastd added is ever removed, and only once its prefix has left the configuration and been
//! withdrawn; an address that was on the interface before anycastd first looked is not in this record, so it stays
//! whatever the configuration says. An address is written here *before* it is added, so that a crash between the
//! two never leaves an address nobody owns; it leaves the record once it has been removed (or once it is found gone
//! while no longer configured).
//!
//! Removing an address is what this record allows, so it is trusted only as `StateDir::read_trusted` trusts a file:
//! a record that another user could have written (root's shell in the units' directory), or that is damaged, makes
//! the pass add what the configuration names but remove nothing. It is a separate file from the record of managed
//! prefixes, whose header lets an idle pass skip reading its entries: this one is read only when the configuration
//! names an interface or the file exists, and it is small (one line per address).
//!
//! ```text
//! [{"interface":"lo","address":"203.0.113.53","prefix":"203.0.113.53/32","service":"dns"}]
//! ```

use std::io;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::StateDir;
use crate::config::Prefix;

/// The record's name inside the state directory.
pub(crate) const ADDRESSES_FILE: &str = "addresses.json";

/// The largest record read: an entry is about 100 bytes, so room for 40,000.
const LIMIT: u64 = 4 << 20;

/// One address anycastd added to an interface of the host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AddedAddress {
    /// The interface it was added to.
    pub interface: String,
    /// The address, added as a /32 or /128.
    pub address: IpAddr,
    /// The prefix it was added for: the address leaves once that prefix has left the configuration and been
    /// withdrawn.
    pub prefix: Prefix,
    /// The service the prefix was for, when it was added.
    pub service: String,
}

/// The record as a pass read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AddedAddresses {
    /// Read, and trusted: what it lists may be removed.
    Trusted(Vec<AddedAddress>),
    /// There is no record, or no state directory: anycastd added nothing (that it can prove).
    #[default]
    Missing,
    /// The record cannot be trusted or read (why): nothing it lists is removed.
    Unusable(String),
}

impl AddedAddresses {
    /// The addresses the record proves anycastd added.
    pub(crate) fn trusted(&self) -> &[AddedAddress] {
        match self {
            AddedAddresses::Trusted(list) => list,
            AddedAddresses::Missing | AddedAddresses::Unusable(_) => &[],
        }
    }
}

/// Reads the record of added addresses from `state_dir`.
pub(crate) fn read(state_dir: Option<&StateDir>) -> AddedAddresses {
    let Some(state_dir) = state_dir else { return AddedAddresses::Missing };
    // No record is nothing to distrust: root in the units' directory, with no address ever added, has nothing to
    // say about a file that is not there.
    if let Ok(false) = state_dir.exists(ADDRESSES_FILE) {
        return AddedAddresses::Missing;
    }
    match state_dir.read_trusted(ADDRESSES_FILE, LIMIT) {
        Ok(None) => AddedAddresses::Missing,
        Ok(Some(bytes)) => match serde_json::from_slice::<Vec<AddedAddress>>(&bytes) {
            Ok(list) => AddedAddresses::Trusted(list),
            Err(error) => {
                AddedAddresses::Unusable(format!("{} is damaged: {error}", state_dir.file(ADDRESSES_FILE).display()))
            }
        },
        Err(error) => AddedAddresses::Unusable(error.to_string()),
    }
}

/// Replaces the record with `list` (sorted, without duplicates); an empty list removes the file.
pub(crate) fn write(state_dir: &StateDir, list: &[AddedAddress]) -> io::Result<()> {
    if list.is_empty() {
        return state_dir.remove(ADDRESSES_FILE).map(|_| ());
    }
    let mut list = list.to_vec();
    list.sort();
    list.dedup();
    let text = serde_json::to_vec(&list).map_err(io::Error::other)?;
    state_dir.write(ADDRESSES_FILE, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(address: &str) -> AddedAddress {
        AddedAddress {
            interface: "lo".into(),
            address: address.parse().expect("an address"),
            prefix: Prefix::parse(address).expect("a prefix"),
            service: "dns".into(),
        }
    }

    #[test]
    fn the_record_reads_back_what_was_written_and_an_empty_one_is_no_file() {
        let (_dir, state_dir) = crate::state::scratch_state_dir("addresses-roundtrip");
        assert_eq!(read(Some(&state_dir)), AddedAddresses::Missing);
        let list = [added("203.0.113.54"), added("203.0.113.53"), added("203.0.113.53")];
        write(&state_dir, &list).expect("written");
        assert_eq!(read(Some(&state_dir)), AddedAddresses::Trusted(vec![added("203.0.113.53"), added("203.0.113.54")]));
        write(&state_dir, &[]).expect("emptied");
        assert!(!state_dir.exists(ADDRESSES_FILE).expect("looked"));
    }

    #[test]
    fn a_damaged_record_lists_nothing_that_may_be_removed() {
        let (_dir, state_dir) = crate::state::scratch_state_dir("addresses-damaged");
        state_dir.write(ADDRESSES_FILE, b"[{\"interface\":").expect("written");
        let read = read(Some(&state_dir));
        assert!(
            matches!(&read, AddedAddresses::Unusable(why) if why.contains("addresses.json is damaged")),
            "{read:?}"
        );
        assert!(read.trusted().is_empty());
    }
}
