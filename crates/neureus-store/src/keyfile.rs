//! Where the master keys come from. `NEUREUS_MASTER_KEY` (plus optional
//! `NEUREUS_MASTER_KEY_PREVIOUS`, comma-separated, during a rotation) when set; otherwise the
//! file `DATA_DIR/master.keys` (mode 0600), generated on first use, holding one `current`
//! line and any `previous` lines.

use std::io::Write;
use std::path::{Path, PathBuf};

use neureus_types::Secret;

use crate::crypto::{CryptoError, Keyring, MasterKey};

/// File name of the keyring in the data dir.
pub const KEY_FILE: &str = "master.keys";

/// Where the keyring was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringSource {
    /// The environment.
    Env,
    /// A key file.
    File(PathBuf),
}

/// A keyring problem.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// A key is malformed.
    #[error("{origin}: {source}")]
    Key {
        /// Which setting or file.
        origin: String,
        /// What is wrong.
        source: CryptoError,
    },
    /// The key file cannot be read or written.
    #[error("{path}: {message}")]
    Io {
        /// File.
        path: String,
        /// Why.
        message: String,
    },
}

fn io(path: &Path, e: impl std::fmt::Display) -> KeyringError {
    KeyringError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Loads (or, in file mode, creates) the keyring. Returns it with its source and whether a
/// new key was generated.
pub fn load_keyring(
    data_dir: &Path,
    env_key: Option<&Secret>,
    env_previous: Option<&Secret>,
) -> Result<(Keyring, KeyringSource, bool), KeyringError> {
    if let Some(k) = env_key {
        let current = MasterKey::from_base64(k).map_err(|source| KeyringError::Key {
            origin: "NEUREUS_MASTER_KEY".into(),
            source,
        })?;
        let mut previous = Vec::new();
        for part in env_previous
            .map(|p| {
                p.expose()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Secret::new)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            previous.push(
                MasterKey::from_base64(&part).map_err(|source| KeyringError::Key {
                    origin: "NEUREUS_MASTER_KEY_PREVIOUS".into(),
                    source,
                })?,
            );
        }
        return Ok((Keyring::new(current, previous), KeyringSource::Env, false));
    }
    let path = data_dir.join(KEY_FILE);
    match read_file(&path)? {
        Some(ring) => Ok((ring, KeyringSource::File(path), false)),
        None => {
            let (key, text) = MasterKey::generate().map_err(|source| KeyringError::Key {
                origin: "generated key".into(),
                source,
            })?;
            write_file(&path, &text, &[], true)?;
            Ok((
                Keyring::new(key, Vec::new()),
                KeyringSource::File(path),
                true,
            ))
        }
    }
}

/// Reads a key file; `None` if it does not exist.
pub fn read_file(path: &Path) -> Result<Option<Keyring>, KeyringError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, e)),
    };
    let mut current = None;
    let mut previous = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let origin = || format!("{} line {}", path.display(), n + 1);
        let (kind, value) = line.split_once(' ').ok_or_else(|| KeyringError::Key {
            origin: origin(),
            source: CryptoError::BadMasterKey,
        })?;
        let key = MasterKey::from_base64(&Secret::new(value.trim())).map_err(|source| {
            KeyringError::Key {
                origin: origin(),
                source,
            }
        })?;
        match kind {
            "current" => current = Some(key),
            _ => previous.push(key),
        }
    }
    let Some(current) = current else {
        return Err(io(path, "no `current` key line"));
    };
    Ok(Some(Keyring::new(current, previous)))
}

/// Writes a key file with mode 0600, atomically (temp file + rename). `create_new` refuses
/// to replace an existing file (first start racing another process).
pub fn write_file(
    path: &Path,
    current: &Secret,
    previous: &[Secret],
    create_new: bool,
) -> Result<(), KeyringError> {
    let mut text = String::from("# Neureus master keys. Keep this file secret and backed up.\n");
    text.push_str(&format!("current {}\n", current.expose()));
    for p in previous {
        text.push_str(&format!("previous {}\n", p.expose()));
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let _ = std::fs::remove_file(&tmp);
    let mut f = opts.open(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| io(&tmp, e))?;
    if create_new {
        // hard_link fails if the target exists: first writer wins.
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        return linked.map_err(|e| io(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// The base64 texts in a key file: (current, previous).
#[doc(hidden)]
pub fn read_texts(path: &Path) -> Result<(Secret, Vec<Secret>), KeyringError> {
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    let mut current = None;
    let mut previous = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.split_once(' ') {
            Some(("current", v)) => current = Some(Secret::new(v.trim())),
            Some((_, v)) => previous.push(Secret::new(v.trim())),
            None => {}
        }
    }
    let current = current.ok_or_else(|| io(path, "no `current` key line"))?;
    Ok((current, previous))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_with_mode_0600_then_reused() {
        let dir = std::env::temp_dir().join(format!("neureus-keyfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (a, src, new) = load_keyring(&dir, None, None).unwrap();
        assert!(new);
        assert_eq!(src, KeyringSource::File(dir.join(KEY_FILE)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (b, _, new) = load_keyring(&dir, None, None).unwrap();
        assert!(!new);
        assert_eq!(a.current().id(), b.current().id());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_keys_win_and_bad_ones_are_named() {
        let (_, text) = MasterKey::generate().unwrap();
        let (_, prev) = MasterKey::generate().unwrap();
        let dir = std::env::temp_dir();
        let (ring, src, _) = load_keyring(&dir, Some(&text), Some(&prev)).unwrap();
        assert_eq!(src, KeyringSource::Env);
        assert_eq!(ring.ids().len(), 2);
        let e = load_keyring(&dir, Some(&Secret::new("short")), None).unwrap_err();
        assert!(e.to_string().starts_with("NEUREUS_MASTER_KEY:"), "{e}");
        assert!(!e.to_string().contains("short"));
    }
}
