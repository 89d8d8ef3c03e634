//! STUB, replaced by the netlink branch's module on merge.
#![allow(dead_code, missing_docs)]
use std::net::IpAddr;
pub(crate) struct Link {
    pub index: u32,
    pub name: String,
    pub master: Option<u32>,
    pub is_vrf: bool,
}
pub(crate) struct Address {
    pub index: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
}
#[derive(Default)]
pub(crate) struct Host {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
}
impl Host {
    pub(crate) fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }
    pub(crate) fn vrf_of(&self, _link: &Link) -> Option<&str> {
        None
    }
    pub(crate) fn has_address(&self, _index: u32, _address: IpAddr) -> bool {
        false
    }
}
pub(crate) struct Netlink;
impl Netlink {
    pub(crate) fn open() -> Result<Netlink, String> {
        Err("stub".into())
    }
    pub(crate) fn read(&mut self) -> Result<Host, String> {
        Err("stub".into())
    }
    pub(crate) fn add_address(&mut self, _index: u32, _address: IpAddr) -> Result<(), String> {
        Err("stub".into())
    }
    pub(crate) fn remove_address(&mut self, _index: u32, _address: IpAddr) -> Result<(), String> {
        Err("stub".into())
    }
}
