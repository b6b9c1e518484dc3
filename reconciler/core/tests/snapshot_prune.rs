//! The snapshot policy's pruning (`plan::prune_snapshots`), shared by the infra plan and `reconciler snapshot`:
//! random snapshot sets against the invariants that keep the data safe.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use reconciler_core::identity::{LAST_GOOD_TAG, MANAGED_TAG, deployment_tag};
use reconciler_core::manifest::SnapshotPolicy;
use reconciler_core::observed::SnapshotState;
use reconciler_core::plan::prune_snapshots;

const DEPLOYMENT: &str = "schwad-prod";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
        .single()
        .unwrap()
}

fn policy(keep: u32) -> SnapshotPolicy {
    SnapshotPolicy {
        every: None,
        keep,
        before_deploy: true,
    }
}

/// Whose a generated snapshot is: the deployment's, another deployment's, managed but untagged, or a hand-made one.
fn tags(owner: u8, last_good: bool) -> Vec<String> {
    let mut tags = match owner % 4 {
        0 => vec![MANAGED_TAG.to_owned(), deployment_tag(DEPLOYMENT)],
        1 => vec![MANAGED_TAG.to_owned(), deployment_tag("schwad-staging")],
        2 => vec![MANAGED_TAG.to_owned()],
        _ => Vec::new(),
    };
    if last_good {
        tags.push(LAST_GOOD_TAG.to_owned());
    }
    tags
}

fn snapshot(i: usize, age_hours: i64, tags: Vec<String>) -> SnapshotState {
    SnapshotState {
        id: format!("snap-{i}"),
        name: format!("schwad-data-{i}"),
        created_at: now() - Duration::hours(age_hours),
        volume_id: "vol-1".into(),
        tags,
    }
}

fn ours(s: &SnapshotState) -> bool {
    s.tags.contains(&deployment_tag(DEPLOYMENT))
}

fn last_good(s: &SnapshotState) -> bool {
    s.tags.iter().any(|t| t == LAST_GOOD_TAG)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_0020),
        ..ProptestConfig::default()
    })]

    #[test]
    fn pruning_keeps_the_newest_the_tagged_keep_count_and_everything_not_ours(
        // Ages repeat (0..6 h over up to 14 snapshots), so ties in creation time occur.
        generated in proptest::collection::vec((0..6i64, any::<u8>(), proptest::bool::weighted(0.15)), 0..14),
        keep in 1..10u32,
        planned in 0..3usize,
    ) {
        let observed: Vec<SnapshotState> = generated
            .iter()
            .enumerate()
            .map(|(i, (age, owner, good))| snapshot(i, *age, tags(*owner, *good)))
            .collect();
        let pruned = prune_snapshots(&policy(keep), DEPLOYMENT, &observed, planned);
        let gone: BTreeSet<&str> = pruned.iter().map(|p| p.snapshot_id.as_str()).collect();
        prop_assert_eq!(gone.len(), pruned.len(), "a snapshot deleted twice");
        let kept: Vec<&SnapshotState> =
            observed.iter().filter(|s| !gone.contains(s.id.as_str())).collect();

        for p in &pruned {
            let s = observed.iter().find(|s| s.id == p.snapshot_id).expect("only observed ones");
            prop_assert!(ours(s), "{} is not the deployment's", s.id);
            prop_assert!(!last_good(s), "{} is the last good deploy's", s.id);
            prop_assert!(p.cause.contains(&keep.to_string()), "{}", p.cause);
            // Only the oldest go: nothing kept under the count is older than a deleted one.
            for k in kept.iter().filter(|k| ours(k) && !last_good(k)) {
                prop_assert!(k.created_at >= s.created_at, "{} kept, older {} deleted", k.id, s.id);
            }
        }
        let ours_before = observed.iter().filter(|s| ours(s)).count();
        let ours_after = kept.iter().filter(|s| ours(s)).count();
        // Unless the plan takes a newer one first, the newest stays.
        if let Some(newest) = observed.iter().filter(|s| ours(s)).map(|s| s.created_at).max()
            && planned == 0
        {
            prop_assert!(
                kept.iter().any(|s| ours(s) && s.created_at == newest),
                "the newest snapshot was deleted"
            );
        }
        // At least `keep` stay once the planned ones are taken...
        let room = (keep as usize).saturating_sub(planned);
        prop_assert!(ours_after + planned >= (keep as usize).min(ours_before + planned));
        prop_assert!(ours_after >= room.min(ours_before), "{ours_after} kept of {ours_before}");
        // ... and no more than that beyond the last good deploy's: the policy is enforced.
        let counted = kept.iter().filter(|s| ours(s) && !last_good(s)).count();
        prop_assert!(counted <= room, "{counted} kept beyond the last good one, room {room}");
        // Pruning what is left prunes nothing more.
        let left: Vec<SnapshotState> = kept.into_iter().cloned().collect();
        prop_assert!(prune_snapshots(&policy(keep), DEPLOYMENT, &left, planned).is_empty());
    }
}

#[test]
fn old_snapshots_of_others_and_hand_made_ones_stay_whatever_their_age() {
    let observed = vec![
        snapshot(1, 1, tags(0, false)),
        snapshot(2, 2, tags(0, false)),
        snapshot(3, 90 * 24, tags(1, false)),
        snapshot(4, 90 * 24, tags(2, false)),
        snapshot(5, 90 * 24, tags(3, false)),
        snapshot(6, 3, tags(0, false)),
    ];
    let pruned = prune_snapshots(&policy(1), DEPLOYMENT, &observed, 0);
    let ids: Vec<&str> = pruned.iter().map(|p| p.snapshot_id.as_str()).collect();
    assert_eq!(ids, ["snap-2", "snap-6"]);
}

/// A snapshot the same plan takes first is the newest: keeping one, the observed ones go (the plan stops before
/// them if that snapshot fails); nothing planned, the newest observed stays.
#[test]
fn a_planned_snapshot_counts_as_the_newest() {
    let observed = vec![
        snapshot(1, 30, tags(0, false)),
        snapshot(2, 5, tags(0, false)),
    ];
    let ids = |planned| -> Vec<String> {
        prune_snapshots(&policy(1), DEPLOYMENT, &observed, planned)
            .into_iter()
            .map(|p| p.snapshot_id)
            .collect()
    };
    assert_eq!(ids(1), ["snap-2", "snap-1"]);
    assert_eq!(ids(0), ["snap-1"]);
}
