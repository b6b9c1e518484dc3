//! Firewall rules in a normal form, so equal rule sets compare equal however DigitalOcean or the manifest writes
//! them: split into one (protocol, port range, source or destination) atom each, `all` ≡ `0` ≡ `1-65535`, ICMP
//! without ports, addresses in canonical CIDR form, order ignored. Sources the manifest cannot name (droplets, load
//! balancers, Kubernetes clusters, tags) are atoms too, so a rule the update would drop is never invisible.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use crate::manifest::{FirewallRule, Protocol};
use crate::observed::ObservedRule;

/// Whom a rule lets in (inbound) or out to (outbound).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Address(String),
    Droplet(u64),
    LoadBalancer(String),
    Kubernetes(String),
    Tag(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(a) => f.write_str(a),
            Self::Droplet(id) => write!(f, "droplet:{id}"),
            Self::LoadBalancer(id) => write!(f, "load_balancer:{id}"),
            Self::Kubernetes(id) => write!(f, "kubernetes:{id}"),
            Self::Tag(tag) => write!(f, "tag:{tag}"),
        }
    }
}

/// One normalized rule atom.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Atom {
    protocol: Protocol,
    ports: Option<(u16, u16)>,
    target: Target,
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        };
        match self.ports {
            None => write!(f, "{protocol} {}", self.target),
            Some((1, 65535)) => write!(f, "{protocol}/all {}", self.target),
            Some((low, high)) if low == high => write!(f, "{protocol}/{low} {}", self.target),
            Some((low, high)) => write!(f, "{protocol}/{low}-{high} {}", self.target),
        }
    }
}

/// The atoms of a rule list.
fn atoms(rules: &[ObservedRule]) -> BTreeSet<Atom> {
    let mut out = BTreeSet::new();
    for rule in rules {
        let ports = match rule.protocol {
            Protocol::Icmp => None,
            _ => Some(crate::manifest::parse_port_range(&rule.ports).unwrap_or((1, 65535))),
        };
        let targets = rule
            .addresses
            .iter()
            .map(|a| Target::Address(normalize_address(a)))
            .chain(rule.droplet_ids.iter().map(|id| Target::Droplet(*id)))
            .chain(
                rule.load_balancer_uids
                    .iter()
                    .cloned()
                    .map(Target::LoadBalancer),
            )
            .chain(rule.kubernetes_ids.iter().cloned().map(Target::Kubernetes))
            .chain(rule.tags.iter().cloned().map(Target::Tag));
        for target in targets {
            out.insert(Atom {
                protocol: rule.protocol,
                ports,
                target,
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

/// How the observed rules differ from the manifest's: the atoms an update adds and those it removes.
#[derive(Debug, Default)]
pub(super) struct RuleDiff {
    /// In the manifest, not on the firewall.
    pub missing: Vec<Atom>,
    /// On the firewall, not in the manifest: the full-replacement update removes them.
    pub extra: Vec<Atom>,
}

/// Compares `observed` with `desired`.
pub(super) fn diff(desired: &[FirewallRule], observed: &[ObservedRule]) -> RuleDiff {
    let desired: Vec<ObservedRule> = desired.iter().map(ObservedRule::from).collect();
    let want = atoms(&desired);
    let have = atoms(observed);
    RuleDiff {
        missing: want.difference(&have).cloned().collect(),
        extra: have.difference(&want).cloned().collect(),
    }
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

    fn observed(rules: &[FirewallRule]) -> Vec<ObservedRule> {
        rules.iter().map(ObservedRule::from).collect()
    }

    fn differences(desired: &[FirewallRule], observed: &[ObservedRule]) -> Vec<String> {
        let d = diff(desired, observed);
        let missing = d.missing.iter().map(|a| format!("{a} missing"));
        missing
            .chain(d.extra.iter().map(|a| format!("{a} extra")))
            .collect()
    }

    #[test]
    fn all_zero_and_full_range_are_the_same() {
        let a = [rule(Protocol::Tcp, "all", &["0.0.0.0/0"])];
        let b = [rule(Protocol::Tcp, "0", &["0.0.0.0/0"])];
        let c = [rule(Protocol::Tcp, "1-65535", &["0.0.0.0/0"])];
        assert_eq!(atoms(&observed(&a)), atoms(&observed(&b)));
        assert_eq!(atoms(&observed(&a)), atoms(&observed(&c)));
    }

    #[test]
    fn order_and_grouping_do_not_matter() {
        let a = [rule(Protocol::Tcp, "22", &["::/0", "0.0.0.0/0"])];
        let b = [
            rule(Protocol::Tcp, "22", &["0.0.0.0/0"]),
            rule(Protocol::Tcp, "22", &["::0/0"]),
        ];
        assert!(differences(&a, &observed(&b)).is_empty());
    }

    #[test]
    fn icmp_ignores_ports_and_bare_addresses_get_a_prefix() {
        let a = [rule(Protocol::Icmp, "all", &["203.0.113.7"])];
        let b = [rule(Protocol::Icmp, "0", &["203.0.113.7/32"])];
        assert!(differences(&a, &observed(&b)).is_empty());
    }

    #[test]
    fn a_removed_rule_is_named() {
        let want = [
            rule(Protocol::Tcp, "22", &["0.0.0.0/0"]),
            rule(Protocol::Tcp, "8080", &["0.0.0.0/0"]),
        ];
        let have = [rule(Protocol::Tcp, "8080", &["0.0.0.0/0"])];
        assert_eq!(
            differences(&want, &observed(&have)),
            ["tcp/22 0.0.0.0/0 missing"]
        );
    }

    #[test]
    fn sources_the_manifest_cannot_name_are_extra() {
        let want = [rule(Protocol::Tcp, "22", &["0.0.0.0/0"])];
        let mut have = observed(&want);
        have[0].load_balancer_uids.push("lb-1".into());
        have[0].droplet_ids.push(7);
        have.push(ObservedRule {
            tags: vec!["web".into()],
            addresses: Vec::new(),
            ..ObservedRule::from(&rule(Protocol::Udp, "0", &[]))
        });
        assert_eq!(
            differences(&want, &have),
            [
                "tcp/22 droplet:7 extra",
                "tcp/22 load_balancer:lb-1 extra",
                "udp/all tag:web extra"
            ]
        );
    }
}
