//! `plugfest list`: the loaded cases grouped per profile (id, TP-469 id,
//! title) with a count per profile, without running anything.

use std::collections::BTreeMap;
use std::process::ExitCode;

use super::validate::print_load_errors;
use super::{exit, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::cli::ListArgs;
use crate::datamodel::Profiles;
use crate::suite::loader;
use crate::suite::Case;

pub fn list(args: &ListArgs) -> ExitCode {
    let profiles = match &args.profiles_dir {
        None => Profiles::builtin(),
        Some(dir) => match Profiles::load_dir(dir) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("cannot load profiles from {}: {e}", dir.display());
                return exit(EXIT_BAD_INPUT);
            }
        },
    };
    let (suites, errors) = loader::load_path_partial(&args.cases, &profiles);
    if !errors.is_empty() {
        print_load_errors(&errors);
    }
    let wanted = profiles.expand_selection(&args.profiles);
    let cases = suites.iter().flat_map(|s| &s.cases);
    print!("{}", render(&profiles, cases, &wanted));
    exit(if errors.is_empty() {
        EXIT_PASSED
    } else {
        EXIT_BAD_INPUT
    })
}

const NO_PROFILE: &str = "(no profile)";

/// The listing; `wanted` (canonical names) empty means every case.
pub fn render<'a>(
    profiles: &Profiles,
    cases: impl Iterator<Item = &'a Case>,
    wanted: &[String],
) -> String {
    let mut groups: BTreeMap<String, Vec<&Case>> = BTreeMap::new();
    for c in cases {
        let group = match &c.profile {
            Some(p) => profiles.canonical(p).unwrap_or(p).to_string(),
            None => NO_PROFILE.to_string(),
        };
        if wanted.is_empty() || wanted.contains(&group) {
            groups.entry(group).or_default().push(c);
        }
    }
    let mut out = String::new();
    let mut total = 0;
    for (name, cases) in &groups {
        let released = profiles
            .get(name)
            .and_then(|p| p.released_as.as_deref())
            .map(|r| format!(" (released as {r})"))
            .unwrap_or_default();
        out.push_str(&format!("{name}{released}\n"));
        let width = cases.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in cases {
            let tp = c
                .tp469
                .as_deref()
                .map(|t| format!("TP-469 {t}"))
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!("  {:<width$}  {:<12}  {}\n", c.id, tp, c.title));
        }
        out.push_str(&format!("  {} case(s)\n\n", cases.len()));
        total += cases.len();
    }
    out.push_str(&format!("{total} case(s) in {} group(s)\n", groups.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn shipped() -> Vec<crate::suite::Suite> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-cases");
        loader::load_path(&dir).unwrap_or_else(|e| panic!("{} load errors", e.len()))
    }

    #[test]
    fn groups_per_profile_with_totals() {
        let p = Profiles::builtin();
        let suites = shipped();
        let all: Vec<&Case> = suites.iter().flat_map(|s| &s.cases).collect();
        let text = render(&p, all.iter().copied(), &[]);
        assert!(
            text.contains("DRAFT-DeviceInfo:1 (released as DeviceInfo:1)\n"),
            "{text}"
        );
        assert!(text.contains("deviceinfo-get-object-path"), "{text}");
        assert!(text.contains("TP-469 1.39"), "{text}");
        let n_di = all
            .iter()
            .filter(|c| c.profile.as_deref() == Some("DRAFT-DeviceInfo:1"))
            .count();
        assert!(text.contains(&format!("  {n_di} case(s)\n")), "{text}");
        assert!(
            text.contains(&format!("\n{} case(s) in ", all.len())),
            "{text}"
        );
    }

    #[test]
    fn released_names_select_their_draft_cases() {
        let p = Profiles::builtin();
        let suites = shipped();
        let cases = || suites.iter().flat_map(|s| &s.cases);
        let di = render(&p, cases(), &p.expand_selection(&["DeviceInfo:1".into()]));
        assert!(di.contains("deviceinfo-get-object-path"), "{di}");
        assert!(!di.contains("localagent-"), "{di}");
        assert!(di.ends_with("in 1 group(s)\n"), "{di}");
        let none = render(&p, cases(), &["Nope:1".into()]);
        assert_eq!(none, "0 case(s) in 0 group(s)\n");
    }
}
