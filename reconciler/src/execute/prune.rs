//! Pruning old images of the app's repository after a successful deploy: the newest `keep` stay for fast
//! rollback, and the engine refuses to remove any image a container (running or kept) still uses.

use crate::docker::{DockerError, Engine};

/// Removes images of `repository` beyond the newest `keep`, never `protect` (the running, last-good image) and
/// never one in use. Returns the ids removed.
pub async fn prune_images(
    engine: &Engine,
    repository: &str,
    keep: usize,
    protect: &str,
) -> Result<Vec<String>, DockerError> {
    let mut removed = Vec::new();
    let images = engine.images_of(repository).await?;
    for image in images.iter().skip(keep).filter(|i| i.id != protect) {
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
