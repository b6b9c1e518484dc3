//! Firewall rules in a normal form, so equal rule sets compare equal however DigitalOcean or the manifest writes
//! them: split into one (protocol, port range, address) atom each, `all` ≡ `0` ≡ `1-65535`, ICMP without ports,
//! addresses in canonical CIDR form, order ignored.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use crate::manifest::{FirewallRule, Protocol};

/// One normalized rule atom.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Atom {
    protocol: Protocol,
    ports: Option<(u16, u16)>,
    address: String,
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        };
        match self.ports {
            None => write!(f, "{protocol} {}", self.address),
            Some((1, 65535)) => write!(f, "{protocol}/all {}", self.address),
            Some((low, high)) if low == high => write!(f, "{protocol}/{low} {}", self.address),
            Some((low, high)) => write!(f, "{protocol}/{low}-{high} {}", self.address),
        }
    }
}

/// The atoms of a rule list.
pub(super) fn atoms(rules: &[FirewallRule]) -> BTreeSet<Atom> {
    let mut out = BTreeSet::new();
    for rule in rules {
        let ports = match rule.protocol {
            Protocol::Icmp => None,
            _ => Some(crate::manifest::parse_port_range(&rule.ports).unwrap_or((1, 65535))),
        };
        for address in &rule.addresses {
            out.insert(Atom {
                protocol: rule.protocol,
                ports,
                address: normalize_address(address),
            });
        }
    }
    out
}

/// `0.0.0.0` → `0.0.0.0/32`, `::0/0` → `::/0`; anything unparsable is kept as written.
fn normalize_address(address: &str) -> String {
    let (ip, prefix) = match address.split_once('/') {
        Some((ip, prefix)) => (ip, prefix.parse::<u8>().ok()),
        None => (address, None),
    };
    match ip.parse::<IpAddr>() {
        Ok(ip) => {
            let full = if ip.is_ipv4() { 32 } else { 128 };
            format!("{ip}/{}", prefix.unwrap_or(full))
        }
        Err(_) => address.to_owned(),
    }
}

/// Causes describing how `observed` differs from `desired`, one per atom (`inbound tcp/22 0.0.0.0/0 missing`).
pub(super) fn differences(
    direction: &str,
    desired: &[FirewallRule],
    observed: &[FirewallRule],
) -> Vec<String> {
    let want = atoms(desired);
    let have = atoms(observed);
    let missing = want
        .difference(&have)
        .map(|a| format!("drift: {direction} rule {a} missing"));
    let extra = have
        .difference(&want)
        .map(|a| format!("drift: {direction} rule {a} not in the manifest"));
    missing.chain(extra).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: Protocol, ports: &str, addresses: &[&str]) -> FirewallRule {
        FirewallRule {
            protocol,
            ports: ports.to_owned(),
            addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn all_zero_and_full_range_are_the_same() {
        let a = [rule(Protocol::Tcp, "all", &["0.0.0.0/0"])];
        let b = [rule(Protocol::Tcp, "0", &["0.0.0.0/0"])];
        let c = [rule(Protocol::Tcp, "1-65535", &["0.0.0.0/0"])];
        assert_eq!(atoms(&a), atoms(&b));
        assert_eq!(atoms(&a), atoms(&c));
    }

    #[test]
    fn order_and_grouping_do_not_matter() {
        let a = [rule(Protocol::Tcp, "22", &["::/0", "0.0.0.0/0"])];
        let b = [
            rule(Protocol::Tcp, "22", &["0.0.0.0/0"]),
            rule(Protocol::Tcp, "22", &["::0/0"]),
        ];
        assert!(differences("inbound", &a, &b).is_empty());
    }

    #[test]
    fn icmp_ignores_ports_and_bare_addresses_get_a_prefix() {
        let a = [rule(Protocol::Icmp, "all", &["203.0.113.7"])];
        let b = [rule(Protocol::Icmp, "0", &["203.0.113.7/32"])];
        assert!(differences("outbound", &a, &b).is_empty());
    }

    #[test]
    fn a_removed_rule_is_named() {
        let want = [
            rule(Protocol::Tcp, "22", &["0.0.0.0/0"]),
            rule(Protocol::Tcp, "8080", &["0.0.0.0/0"]),
        ];
        let have = [rule(Protocol::Tcp, "8080", &["0.0.0.0/0"])];
        assert_eq!(
            differences("inbound", &want, &have),
            ["drift: inbound rule tcp/22 0.0.0.0/0 missing"]
        );
    }
}
