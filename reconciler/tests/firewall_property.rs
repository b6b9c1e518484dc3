//! The firewall plan shows exactly what the update sends: for random firewalls as DigitalOcean returns them (every
//! kind of source and destination, droplets by id, foreign tags), the body of the full-replacement `PUT` equals the
//! observed firewall with the plan's shown field changes applied, and a firewall the plan leaves alone already equals
//! that body. The oracle reads the API objects with its own small normal form, not the planner's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{TimeZone, Utc};
use digitalocean_api::models::{
    Firewall, FirewallSpec, FirewallStatus, InboundRule, OutboundRule, Targets,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use reconciler::execute::digitalocean::firewall_spec;
use reconciler::observe::digitalocean::firewall_state;
use reconciler_core::identity::deployment_tag;
use reconciler_core::observed::{Observed, ObservedInfra, ObservedState};
use reconciler_core::plan::{Operation, PlanOptions, ResourceKind, plan};

/// `(direction, "protocol/ports target")` of every target of every rule.
type Entries = BTreeSet<(String, String)>;

fn entries(direction: &str, protocol: &str, ports: &str, t: &Targets, out: &mut Entries) {
    let head = match (protocol, ports) {
        ("icmp", _) => "icmp".to_owned(),
        (p, "0" | "all" | "" | "1-65535") => format!("{p}/all"),
        (p, ports) => format!("{p}/{ports}"),
    };
    let targets = t
        .addresses
        .iter()
        .cloned()
        .chain(t.droplet_ids.iter().map(|id| format!("droplet:{id}")))
        .chain(
            t.load_balancer_uids
                .iter()
                .map(|id| format!("load_balancer:{id}")),
        )
        .chain(t.kubernetes_ids.iter().map(|id| format!("kubernetes:{id}")))
        .chain(t.tags.iter().map(|tag| format!("tag:{tag}")));
    for target in targets {
        out.insert((direction.to_owned(), format!("{head} {target}")));
    }
}

fn spec_entries(spec: &FirewallSpec) -> Entries {
    let mut out = Entries::new();
    for r in &spec.inbound_rules {
        entries("inbound", &r.protocol, &r.ports, &r.sources, &mut out);
    }
    for r in &spec.outbound_rules {
        entries("outbound", &r.protocol, &r.ports, &r.destinations, &mut out);
    }
    out
}

fn subset<T: Clone + std::fmt::Debug + 'static>(
    pool: &'static [T],
) -> impl Strategy<Value = Vec<T>> {
    proptest::sample::subsequence(pool, 0..=pool.len())
}

fn targets() -> impl Strategy<Value = Targets> {
    (
        subset(&["0.0.0.0/0", "::/0", "10.0.0.0/8", "203.0.113.7/32"]),
        subset(&[1u64, 2, 3]),
        subset(&["lb-1", "lb-2"]),
        subset(&["k8s-1"]),
        subset(&["web", "schwad-deployment:schwad-prod"]),
    )
        .prop_map(|(addresses, droplet_ids, lbs, k8s, tags)| Targets {
            addresses: addresses.into_iter().map(str::to_owned).collect(),
            droplet_ids,
            load_balancer_uids: lbs.into_iter().map(str::to_owned).collect(),
            kubernetes_ids: k8s.into_iter().map(str::to_owned).collect(),
            tags: tags.into_iter().map(str::to_owned).collect(),
        })
        // DigitalOcean refuses a rule without any target.
        .prop_filter("a rule has a target", |t| *t != Targets::default())
}

fn rule() -> impl Strategy<Value = (String, String, Targets)> {
    (
        prop_oneof![Just("tcp"), Just("udp"), Just("icmp")],
        prop_oneof![Just("22"), Just("8080"), Just("0"), Just("1000-2000")],
        targets(),
    )
        .prop_map(|(protocol, ports, targets)| {
            let ports = if protocol == "icmp" { "0" } else { ports };
            (protocol.to_owned(), ports.to_owned(), targets)
        })
}

fn firewall() -> impl Strategy<Value = Firewall> {
    let like_desired = (
        Just("tcp".to_owned()),
        prop_oneof![Just("22".to_owned()), Just("8080".to_owned())],
        Just(Targets {
            addresses: vec!["0.0.0.0/0".into(), "::/0".into()],
            ..Targets::default()
        }),
    );
    (
        proptest::collection::vec(prop_oneof![rule(), like_desired], 0..4),
        proptest::collection::vec(rule(), 0..3),
        subset(&[1u64, 2]),
        subset(&["schwad-deployment:schwad-prod", "web"]),
    )
        .prop_map(|(inbound, outbound, droplet_ids, tags)| Firewall {
            id: "fw-1".into(),
            status: FirewallStatus::Succeeded,
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            pending_changes: Vec::new(),
            spec: FirewallSpec {
                name: "schwad-prod".into(),
                inbound_rules: inbound
                    .into_iter()
                    .map(|(protocol, ports, sources)| InboundRule {
                        protocol,
                        ports,
                        sources,
                    })
                    .collect(),
                outbound_rules: outbound
                    .into_iter()
                    .map(|(protocol, ports, destinations)| OutboundRule {
                        protocol,
                        ports,
                        destinations,
                    })
                    .collect(),
                droplet_ids,
                tags: tags.into_iter().map(str::to_owned).collect(),
            },
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(15),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_update_body_is_the_observed_firewall_with_the_plans_changes(observed in firewall()) {
        let loaded = reconciler::load::manifest(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/desired.yaml"),
        )
        .unwrap();
        let state = ObservedState {
            observed_at: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
            infra: Some(ObservedInfra {
                droplets: Observed::Unknown("not under test".into()),
                volumes: Observed::Unknown("not under test".into()),
                firewalls: Observed::Known(vec![firewall_state(&observed).unwrap()]),
                registry: Observed::Unknown("not under test".into()),
                snapshots: Observed::Unknown("not under test".into()),
            }),
            app: None,
        };
        let plan = plan(&loaded.desired(None), &state, &PlanOptions::default());
        let dep = deployment_tag(&loaded.manifest.name);
        if !observed.spec.tags.contains(&dep) {
            // Not applied to the deployment's tag: not this deployment's until adopted, and nothing is sent.
            prop_assert!(plan.blocked.iter().any(|b| b.resource.kind == ResourceKind::Firewall));
            prop_assert!(plan.steps.iter().all(|s| s.resource.kind != ResourceKind::Firewall));
            return Ok(());
        }
        let change = plan
            .changes
            .iter()
            .find(|c| c.resource.kind == ResourceKind::Firewall)
            .unwrap();
        let want = &loaded.manifest.infra.firewall;
        let body = match plan.steps.iter().find_map(|s| match &s.op {
            Operation::UpdateFirewall { name, inbound, outbound, tags, .. } => {
                Some(firewall_spec(name, inbound, outbound, tags))
            }
            _ => None,
        }) {
            Some(body) => body,
            // No update: what an update would send must already be there.
            None => firewall_spec(&want.name, &want.inbound, &want.outbound, std::slice::from_ref(&dep)),
        };

        let shown = |removed: bool| -> Entries {
            change
                .fields
                .iter()
                .filter(|f| f.field == "inbound" || f.field == "outbound")
                .filter_map(|f| match (&f.before, &f.after, removed) {
                    (Some(before), None, true) => Some((f.field.clone(), before.clone())),
                    (None, Some(after), false) => Some((f.field.clone(), after.clone())),
                    _ => None,
                })
                .collect()
        };
        let (removed, added) = (shown(true), shown(false));
        let before = spec_entries(&observed.spec);
        prop_assert!(removed.is_subset(&before), "removes what is not there: {removed:?}");
        prop_assert!(added.is_disjoint(&before), "adds what is there: {added:?}");
        let expected: Entries = before.difference(&removed).chain(&added).cloned().collect();
        prop_assert_eq!(spec_entries(&body), expected);

        let field = |name: &str| change.fields.iter().find(|f| f.field == name);
        prop_assert!(body.droplet_ids.is_empty());
        match field("droplet_ids") {
            Some(f) => {
                let ids: Vec<String> = observed.spec.droplet_ids.iter().map(u64::to_string).collect();
                prop_assert_eq!(f.before.clone(), Some(ids.join(",")));
                prop_assert_eq!(&f.after, &None);
            }
            None => prop_assert!(observed.spec.droplet_ids.is_empty()),
        }
        let mut tags = observed.spec.tags.clone();
        tags.sort();
        prop_assert_eq!(&body.tags, &vec![dep.clone()]);
        match field("tags") {
            Some(f) => {
                prop_assert_eq!(f.before.clone(), Some(tags.join(",")));
                prop_assert_eq!(f.after.clone(), Some(dep.clone()));
            }
            None => prop_assert_eq!(tags, vec![dep]),
        }
    }
}
