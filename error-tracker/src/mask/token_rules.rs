//! Value rules for well-known token formats, after gitleaks' rule set
//! (github.com/gitleaks/gitleaks, `config/gitleaks.toml`): each is a prefix
//! that only that issuer uses, followed by the token's alphabet. They run
//! on the writer thread, inside the one value-rules regex (AWS secret keys
//! in a byte loop of their own).
//!
//! | issuer | form |
//! |---|---|
//! | AWS access key id | `AKIA`, `ASIA`, `ABIA`, `ACCA`, `A3T?` + 16 of `A-Z2-7` |
//! | AWS secret access key | 40 of base64 without `=`, mixed case and digits, bounded (see [`aws_secret_ranges`]) |
//! | JWT (and any base64url JSON) | `eyJ` + 10 or more of base64url, up to two `.` parts |
//! | GitHub | `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` + 20 or more; `github_pat_` + 20 or more |
//! | GitLab | `glpat-` + 20 or more |
//! | Slack | `xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`, `xoxs-`, `xoxo-` + 10 or more |
//! | Stripe | `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_` + 6 or more at a word start, 16 or more anywhere |
//! | Google API key | `AIza` + 35 |

use std::ops::Range;

/// The alternatives, for the value-rules regex (no capture groups).
pub(super) const TOKENS: &str = concat!(
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
    r"|eyJ[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]+){0,2}",
    r"|gh[pousr]_[A-Za-z0-9]{20,}",
    r"|github_pat_[A-Za-z0-9_]{20,}",
    r"|glpat-[A-Za-z0-9_-]{20,}",
    r"|xox[aboprs]-[A-Za-z0-9-]{10,}",
    // At a word start, or long: `task_test_runner` holds `sk_test_` too.
    r"|\b[sr]k_(?:live|test)_[A-Za-z0-9]{6,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
    r"|AIza[0-9A-Za-z_-]{35}",
);

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'/' || b == b'+'
}

/// Where the AWS secret access keys are: runs of exactly 40 characters of
/// base64 (not followed by `=` padding) holding upper case, lower case and
/// digits. A git SHA (hex, one case), a UUID (dashes), a word, or a slice
/// of a longer base64 run are not.
pub(super) fn aws_secret_ranges(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_base64_char(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_base64_char(b[i]) {
            i += 1;
        }
        let run = &b[start..i];
        if run.len() == 40
            && b.get(i) != Some(&b'=')
            && run.iter().any(u8::is_ascii_uppercase)
            && run.iter().any(u8::is_ascii_lowercase)
            && run.iter().any(u8::is_ascii_digit)
        {
            // The run is ASCII, so its ends are char boundaries.
            found.push(start..i);
        }
    }
    found
}

/// Whether the "password" of a `scheme://name:…@` match is a port and a
/// path (`https://host:8443/users/@bob`): digits up to the first `/`.
pub(super) fn looks_like_port(pw: &str) -> bool {
    match pw.split_once('/') {
        Some((port, _)) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::mask::{DefaultMasking, Masking};

    fn masked(text: &str) -> String {
        DefaultMasking::new(vec![], "***".into()).mask_text(text).into_owned()
    }

    #[test]
    fn true_positives() {
        for (text, want) in [
            ("using AKIAIOSFODNN7EXAMPLE now", "using *** now"),
            ("ASIAY34FZKBOKMUTVV7A", "***"),
            ("id=AKIAIOSFODNN7EXAMPLE,", "id=***,"),
            ("aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end", "aws *** end"),
            ("secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret=***"),
            (
                "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt ***",
            ),
            ("claims eyJzdWIiOiIxMjM0NTY3ODkwIn0", "claims ***"),
            ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "***"),
            ("token=gho_16C7e42F292c6912E7710c838347Ae178B4a;", "token=***;"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "***"),
            ("glpat-Xy9zAbCdEfGhIjKlMnOp rest", "*** rest"),
            ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "***"),
            ("xoxp-1234567890-abcdefghij", "***"),
            ("charged with sk_live_4eC39HqLyjWDarjtT1zdp7dc", "charged with ***"),
            ("rk_test_AAA111bbb", "***"),
            ("ref_sk_live_4eC39HqLyjWDarjtT1zdp7dc_x", "ref_***_x"),
            ("key AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI.", "key ***."),
        ] {
            assert_eq!(masked(text), want, "{text}");
        }
    }

    /// A token's prefix found by chance inside an AWS secret key (seen by
    /// the masking fuzz: `eyJ` in random base64) masks the whole key, not
    /// the token's part of it; and the key inside a token masks the token.
    #[test]
    fn overlapping_rules_mask_the_union() {
        let key = "ogkeyJa1B2c3D4e5F6g7H8i+HDaVSm5iT4DacQmv";
        assert_eq!(key.len(), 40);
        assert_eq!(masked(&format!("aws {key} end")), "aws *** end");
        assert_eq!(masked(key), "***");
        assert_eq!(masked(&format!("Bearer {key}")), "Bearer ***");
    }

    #[test]
    fn false_positives_stay() {
        for text in [
            "commit 3e2f5610a1b2c3d4e5f60718293a4b5c6d7e8f90 on main",
            "COMMIT 3E2F5610A1B2C3D4E5F60718293A4B5C6D7E8F90",
            "event 550e8400-e29b-41d4-a716-446655440000",
            "an ordinary sentence about tokens, keys and secrets",
            "AKIA is a prefix",
            "the task_test_runner failed",
            "mark_live_update",
            "eyJ alone",
            "ghp_short",
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "path/to/some/file/in/a/deeply/nested/dir/x.rs",
            "SomeVeryLongRustTypeNameWithoutDigitsInIt",
            "std::collections::hash_map::HashMap<String, Vec<u8>>",
        ] {
            assert_eq!(masked(text), text, "{text}");
        }
        // A longer base64 run is not a 40-character secret.
        let blob = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
        assert_eq!(masked(blob), blob);
    }
}
