//! Pruning the app repository's images: those older than the image that runs, beyond the newest `keep` of them,
//! go once the new container passed its gate (their steps come after it). One still used by a container that this
//! plan leaves in place stays, and so does one that also carries another repository's tag.

use std::collections::{BTreeMap, BTreeSet};

use super::diff::short;
use crate::identity::repository_of;
use crate::observed::{ContainerState, ObservedApp, StoredImage};
use crate::plan::builder::{Builder, Change};
use crate::plan::{Action, Operation, ResourceId, ResourceKind};

/// Plans the removal of the images beyond `keep`. What runs after the plan is the desired image: when it is in the
/// store, the images older than it are candidates; when this plan pulls it, it is taken as the newest (its build
/// time is unknown until pulled), so every image is; otherwise the image of `current` measures.
pub(super) fn prune(
    b: &mut Builder<'_>,
    reference: &str,
    o: &ObservedApp,
    current: Option<&ContainerState>,
) {
    let Some(keep) = b.keep_images() else {
        return;
    };
    let pulled = b
        .planned_ops()
        .any(|op| matches!(op, Operation::PullImage { reference: r } if r == reference));
    let runs = o
        .image
        .as_ref()
        .map(|i| i.id.as_str())
        .or(current.map(|c| c.image_id.as_str()));
    let newer_than: Option<(i64, String)> = if o.image.is_none() && pulled {
        None
    } else {
        match runs.and_then(|id| o.repository_images.iter().find(|i| i.id == id)) {
            Some(image) => Some((image.created, short(&image.id))),
            None => return, // Not under this repository's name: nothing is known to be older.
        }
    };
    let mut older: Vec<&StoredImage> = o
        .repository_images
        .iter()
        .filter(|i| {
            newer_than
                .as_ref()
                .is_none_or(|(created, _)| i.created < *created)
        })
        .collect();
    older.sort_by_key(|i| std::cmp::Reverse(i.created));
    let in_use = images_in_use(b, o);
    let repository = repository_of(reference);
    let ours = |tag: &String| repository_of(tag) == repository;
    let cause = format!(
        "older than {}, beyond the newest {keep} kept for a rollback",
        newer_than.map_or_else(
            || format!("{reference} (pulled by this plan)"),
            |(_, id)| id
        )
    );
    for image in older.into_iter().skip(keep) {
        if in_use.contains(image.id.as_str()) || !image.tags.iter().all(ours) {
            continue;
        }
        let name = image
            .tags
            .first()
            .cloned()
            .unwrap_or_else(|| short(&image.id));
        let mut c = Change::new(ResourceId::new(ResourceKind::Image, name), Action::Delete);
        c.cause(&cause).step(
            Operation::RemoveImage {
                image_id: image.id.clone(),
            },
            &cause,
        );
        b.add(c);
    }
}

/// The images of the observed containers the plan so far leaves in place, following its renames to see which
/// container each removal names.
fn images_in_use<'o>(b: &Builder<'_>, o: &'o ObservedApp) -> BTreeSet<&'o str> {
    let mut by_name: BTreeMap<String, &'o ContainerState> = BTreeMap::new();
    for c in &o.containers {
        by_name.insert(c.id.clone(), c);
        by_name.insert(c.name.clone(), c);
    }
    let mut removed = BTreeSet::new();
    for op in b.planned_ops() {
        match op {
            Operation::RenameContainer { container, to } => {
                if let Some(c) = by_name.get(container).copied() {
                    by_name.insert(to.clone(), c);
                }
            }
            Operation::RemoveContainer { container } => {
                if let Some(c) = by_name.get(container) {
                    removed.insert(c.id.as_str());
                }
            }
            _ => {}
        }
    }
    o.containers
        .iter()
        .filter(|c| !removed.contains(c.id.as_str()))
        .map(|c| c.image_id.as_str())
        .collect()
}
