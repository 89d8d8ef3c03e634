//! What anycastd keeps of its capabilities, and what it passes on to its children: nothing.
//!
//! A unit that runs anycastd as a service user grants it CAP_NET_ADMIN as an ambient capability, which is how a
//! non-root process gets it at all; but an ambient capability also survives exec into every child, and anycastd's
//! children (vtysh, hooks, exec checks) need none. [`keep_from_children`] clears the ambient and inheritable sets,
//! so that a child starts with no capability while anycastd keeps its own (permitted, effective) for netlink.
//! [`drop_net_admin`] gives CAP_NET_ADMIN up altogether, for a configuration that has no `interface` key.
//!
//! Capabilities belong to a thread, not to the process: call both from the main thread before any other thread
//! starts (a thread copies its creator's sets), as `identity` changes the user. A process whose user is root gets
//! root's capabilities back at each exec whatever these sets say; they matter for a service user.

use std::io;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const VERSION_3: u32 = 0x2008_0522;
const CAP_NET_ADMIN: u32 = 12;
const PR_CAP_AMBIENT: libc::c_int = 47;
const PR_CAP_AMBIENT_CLEAR_ALL: libc::c_ulong = 4;

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Sets {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Clears the ambient capability set (PR_CAP_AMBIENT_CLEAR_ALL) and the inheritable set, so that vtysh, hooks and
/// exec checks started afterwards get no capability even when the unit grants AmbientCapabilities=CAP_NET_ADMIN.
/// Harmless when anycastd has no capability, and on a kernel without ambient capabilities (before 4.3).
pub(crate) fn keep_from_children() -> Result<(), String> {
    // SAFETY: prctl(2) with integer arguments only.
    if unsafe {
        libc::prctl(
            PR_CAP_AMBIENT,
            PR_CAP_AMBIENT_CLEAR_ALL,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    } != 0
    {
        let error = io::Error::last_os_error();
        if !harmless(&error) {
            return Err(format!("cannot clear the ambient capabilities: {}", crate::os_error::words(&error)));
        }
    }
    change(|sets| sets.iter_mut().for_each(|set| set.inheritable = 0))
        .map_err(|error| format!("cannot clear the inheritable capabilities: {error}"))
}

/// Removes CAP_NET_ADMIN from the effective, permitted (and inheritable) sets, for a configuration with no
/// `interface` key: anycastd then cannot change the host's network even if it were made to try.
pub(crate) fn drop_net_admin() -> Result<(), String> {
    let bit = !(1u32 << CAP_NET_ADMIN);
    change(|[low, _]| {
        low.effective &= bit;
        low.permitted &= bit;
        low.inheritable &= bit;
    })
    .map_err(|error| format!("cannot give up CAP_NET_ADMIN: {error}"))
}

/// Keeps CAP_NET_ADMIN alone in the permitted and effective sets, when it is permitted: for root that becomes the
/// units' user (`identity.rs`) with PR_SET_KEEPCAPS, which keeps every permitted capability across the change of
/// user but clears the effective set. Everything else root could do is given up.
pub(crate) fn keep_only_net_admin() -> Result<(), String> {
    let bit = 1u32 << CAP_NET_ADMIN;
    change(|[low, high]| {
        let kept = low.permitted & bit;
        *low = Sets { effective: kept, permitted: kept, inheritable: 0 };
        *high = Sets::default();
    })
    .map_err(|error| format!("cannot keep CAP_NET_ADMIN alone: {error}"))
}

/// Reads the calling thread's sets (two words each: capabilities 0 to 31, 32 to 63), applies `edit` and writes
/// them back if they changed. Capabilities can always be given up, so EPERM would only come from an odd sandbox.
fn change(edit: impl FnOnce(&mut [Sets; 2])) -> Result<(), String> {
    let mut sets = [Sets::default(); 2];
    let mut header = Header { version: VERSION_3, pid: 0 };
    // SAFETY: capget(2) with version 3 writes two `Sets` (the layout of `struct __user_cap_data_struct`).
    if unsafe { libc::syscall(libc::SYS_capget, &raw mut header, sets.as_mut_ptr()) } != 0 {
        let error = io::Error::last_os_error();
        return if harmless(&error) { Ok(()) } else { Err(crate::os_error::words(&error)) };
    }
    let before = sets;
    edit(&mut sets);
    if sets == before {
        return Ok(());
    }
    let mut header = Header { version: VERSION_3, pid: 0 };
    // SAFETY: capset(2) with version 3 reads two `Sets`, alive for the call.
    if unsafe { libc::syscall(libc::SYS_capset, &raw mut header, sets.as_ptr()) } != 0 {
        let error = io::Error::last_os_error();
        return if harmless(&error) { Ok(()) } else { Err(crate::os_error::words(&error)) };
    }
    Ok(())
}

/// EPERM (nothing to give up, or a sandbox) and EINVAL (a kernel without the call or the option).
fn harmless(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EPERM | libc::EINVAL))
}

#[cfg(test)]
mod tests;
