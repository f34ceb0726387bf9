//! `mfn keys generate`: a new API key, shown once, and its line for `MFN_API_KEYS_FILE`.
//!
//! The key is 32 bytes from the operating system's CSPRNG, hex-encoded. The server
//! never needs it: the file line holds its SHA-256 only. Give the key to the client and
//! append the line to the key file; the key cannot be recovered afterwards.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use mfn_server::security::keys::{self, Scopes};
use serde::Serialize;

/// Flags of `mfn keys`.
#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    /// What to do with keys
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Actions of `mfn keys`.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Generate a new key; prints it once with its key-file line
    Generate(GenerateArgs),
}

/// Flags of `mfn keys generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Name shown in logs and metrics [default: the first 12 hex digits of the key's hash]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Comma list of scopes: compute (every mfn.v1 method), admin
    #[arg(long, default_value = "compute", value_name = "LIST")]
    pub scopes: String,
}

/// What `mfn keys generate` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneratedKey {
    /// The key: give it to the client (`x-api-key`); it is not stored anywhere.
    pub api_key: String,
    /// SHA-256 of the key, hex: what the server stores.
    pub sha256: String,
    /// The key's name.
    pub name: String,
    /// The key's scopes.
    pub scopes: String,
    /// The line to append to the `MFN_API_KEYS_FILE` file.
    pub file_line: String,
}

/// Run an action of `mfn keys`.
pub fn run(args: &KeysArgs) -> Result<GeneratedKey> {
    match &args.action {
        KeysAction::Generate(g) => generate(g),
    }
}

/// Generate a key with the given name and scopes.
pub fn generate(args: &GenerateArgs) -> Result<GeneratedKey> {
    let scopes = Scopes::parse(&args.scopes).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
    if let Some(name) = &args.name {
        anyhow::ensure!(
            keys::valid_name(name),
            "--name {name:?} is invalid: use 1-64 letters, digits, '-', '_', '.', '@'"
        );
    }
    let api_key = keys::generate_key().context("cannot read the system random generator")?;
    let sha256 = hex::encode(keys::hash_key(&api_key));
    let name = args.name.clone().unwrap_or_else(|| sha256[..12].to_owned());
    Ok(GeneratedKey {
        file_line: keys::file_line(&api_key, &name, scopes),
        api_key,
        sha256,
        name,
        scopes: scopes.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_parses_back_to_the_key() {
        let g = generate(&GenerateArgs {
            name: Some("ci".into()),
            scopes: "compute,admin".into(),
        })
        .unwrap();
        let parsed = keys::parse_file("keys", &g.file_line).unwrap();
        let set = keys::KeySet::new(parsed);
        assert_eq!(set.lookup(&g.api_key), Some(0));
        assert_eq!(set.keys()[0].name, "ci");
        assert_eq!(g.scopes, "compute,admin");
        assert!(!g.file_line.contains(&g.api_key));
        let d = generate(&GenerateArgs {
            name: None,
            scopes: "compute".into(),
        })
        .unwrap();
        assert_eq!(d.name, &d.sha256[..12]);
        assert_ne!(d.api_key, g.api_key);
    }

    #[test]
    fn bad_flags_are_refused() {
        let bad_scope = GenerateArgs {
            name: None,
            scopes: "root".into(),
        };
        assert!(
            generate(&bad_scope)
                .unwrap_err()
                .to_string()
                .contains("--scopes")
        );
        let bad_name = GenerateArgs {
            name: Some("a b".into()),
            scopes: "compute".into(),
        };
        assert!(
            generate(&bad_name)
                .unwrap_err()
                .to_string()
                .contains("--name")
        );
    }
}
