//! Rendering the cloud-init user_data template named by `infra.droplet.user_data`.

use super::DesiredState;

/// Why a user_data template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum UserDataError {
    /// A `{{name}}` the manifest does not provide.
    #[error("user_data template: unknown placeholder {{{{{0}}}}} (known: {1}, include PATH)")]
    Unknown(String, String),
    /// An `{{include PATH}}` whose file could not be read.
    #[error("user_data template: include {0}: {1}")]
    Include(String, String),
    /// The rendered text grew past [`MAX_RENDERED`].
    #[error("user_data template: the rendered text exceeds {MAX_RENDERED} bytes")]
    TooLarge,
}

/// Largest rendered user_data: DigitalOcean takes at most 64 KiB; rendering stops as soon as this is passed, so many
/// includes of a large file cannot exhaust memory.
pub const MAX_RENDERED: usize = 64 * 1024;

/// Replaces the `{{placeholders}}` of a user_data template with values from the manifest.
///
/// Known placeholders: `deployment`, `volume_name`, `filesystem`, `mount_path`, `volume_owner`, `volume_mode`,
/// `data_dir`, `app_user`, `env_file`, `container_name`, `image_repository`; and `{{include PATH}}`, replaced by the
/// file `read(PATH)` returns, every line after the first indented like the placeholder (for YAML block scalars).
pub fn render_user_data(
    template: &str,
    d: &DesiredState,
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Result<String, UserDataError> {
    let values = [
        ("deployment", d.name.clone()),
        ("volume_name", d.infra.volume.name.clone()),
        ("filesystem", d.infra.volume.filesystem.to_string()),
        ("mount_path", d.infra.volume.mount_path.clone()),
        ("volume_owner", d.infra.volume.owner.clone()),
        ("volume_mode", d.infra.volume.mode.clone()),
        ("data_dir", d.app.volume_mount.host_path.clone()),
        ("app_user", d.app.user.clone()),
        (
            "env_file",
            d.app
                .secrets
                .as_ref()
                .map(|s| s.env_file.clone())
                .unwrap_or_default(),
        ),
        ("container_name", d.app.container_name.clone()),
        ("image_repository", d.app.image.repository.clone()),
    ];
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let key = after[..end].trim();
        if let Some(path) = key.strip_prefix("include ") {
            let path = path.trim();
            let text = read(path).map_err(|e| UserDataError::Include(path.to_owned(), e))?;
            let indent: String = out
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .map(|c| if c.is_whitespace() { c } else { ' ' })
                .collect();
            if out.len() + text.len() > MAX_RENDERED {
                return Err(UserDataError::TooLarge);
            }
            out.push_str(&text.trim_end().replace('\n', &format!("\n{indent}")));
        } else {
            match values.iter().find(|(k, _)| *k == key) {
                Some((_, value)) => out.push_str(value),
                None => {
                    let known: Vec<&str> = values.iter().map(|(k, _)| *k).collect();
                    return Err(UserDataError::Unknown(key.to_owned(), known.join(", ")));
                }
            }
        }
        if out.len() > MAX_RENDERED {
            return Err(UserDataError::TooLarge);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if out.len() > MAX_RENDERED {
        return Err(UserDataError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> DesiredState {
        let text = include_str!("../../../../manifests/desired.yaml");
        crate::manifest::parse("desired.yaml", text).unwrap()
    }

    #[test]
    fn placeholders_and_indented_includes() {
        let read = |path: &str| match path {
            "unit" => Ok("[Unit]\nDescription=x\n".to_owned()),
            other => Err(format!("no file {other}")),
        };
        let out = render_user_data(
            "a: {{mount_path}}\n  content: |\n    {{include unit}}\n",
            &desired(),
            &read,
        )
        .unwrap();
        assert_eq!(
            out,
            "a: /mnt/schwad-data\n  content: |\n    [Unit]\n    Description=x\n"
        );
        assert!(matches!(
            render_user_data("{{nope}}", &desired(), &read),
            Err(UserDataError::Unknown(..))
        ));
        assert!(matches!(
            render_user_data("{{include gone}}", &desired(), &read),
            Err(UserDataError::Include(..))
        ));
    }

    /// Issue 16, case 2: many includes of a large file stop at the bound instead of filling memory.
    #[test]
    fn rendering_stops_at_the_bound() {
        let read = |_: &str| Ok("x".repeat(60_000));
        let template = "{{include big}}\n".repeat(1000);
        assert!(matches!(
            render_user_data(&template, &desired(), &read),
            Err(UserDataError::TooLarge)
        ));
    }
}
