//! Pruning old images of the app's repository after a successful deploy. The running (last-good) image stays, so
//! does every image as new as it (a release pulled ahead of its deploy), and so do the `keep` newest older ones,
//! for a fast rollback. The engine refuses to remove an image a container (running or kept) still uses.

use crate::docker::{DockerError, Engine};

/// Removes images of `repository` older than the running image `protect`, beyond the newest `keep` of those.
/// Returns the ids removed.
pub async fn prune_images(
    engine: &Engine,
    repository: &str,
    keep: usize,
    protect: &str,
) -> Result<Vec<String>, DockerError> {
    let images = engine.images_of(repository).await?;
    let Some(running) = images.iter().find(|i| i.id == protect) else {
        return Ok(Vec::new()); // Not under this repository's name: nothing is known to be older.
    };
    let mut removed = Vec::new();
    for image in images
        .iter()
        .filter(|i| i.created < running.created)
        .skip(keep)
    {
        match engine.remove_image(&image.id).await {
            Ok(()) => removed.push(image.id.clone()),
            Err(e) => tracing::debug!(image = %image.id, error = %e, "image kept: still in use"),
        }
    }
    Ok(removed)
}

/// The repository of an image reference (`repo:tag` or `repo@digest` → `repo`).
pub fn repository_of(reference: &str) -> &str {
    if let Some((repo, _)) = reference.split_once('@') {
        return repo;
    }
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_strips_tag_or_digest() {
        assert_eq!(repository_of("r.example:5000/a/b:v1"), "r.example:5000/a/b");
        assert_eq!(repository_of("a/b@sha256:00"), "a/b");
        assert_eq!(repository_of("localhost:5000/a"), "localhost:5000/a");
    }
}
