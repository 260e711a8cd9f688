//! report.html end to end: a run against the reference Agent with a fault
//! (so cases fail) and with a case that puts markup into FriendlyName (the
//! Agent echoes it in a Get), then the page's content, its regeneration by
//! `plugfest report`, `--templates`, and the page as Debian's headless
//! Chromium renders it (installed by scripts/test.sh).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Markup that, if it reached the page unescaped, would run and leave a
/// `data-pwned` attribute on <html> (the <img> fails to load `x`). It is
/// longer than FriendlyName's 32 characters, so the Agent refuses it: it
/// reaches the report through the sent Msg in the trace.
const HOSTILE: &str = r#"<script>window.__pwned=1;document.documentElement.setAttribute("data-pwned","script")</script><img src=x onerror="document.documentElement.setAttribute('data-pwned','img')">"#;

/// Hostile markup short enough (29 of 32 characters) for the Agent to
/// store and echo in a GetResp; unescaped, it sets `<body id="9">`.
const HOSTILE_ECHOED: &str = "<img src=x onerror=body.id=9>";

const CHROMIUM: &str = "/usr/bin/chromium";

fn hostile_suite() -> String {
    // YAML single quotes: a quote inside is doubled.
    let long = HOSTILE.replace('\'', "''");
    format!(
        r#"suite: Hostile values
description: An Agent echoing markup must not inject it into the report.
cases:
  - id: hostile-friendly-name
    title: FriendlyName holding markup comes back in a Get
    setup:
      - get: {{ paths: [Device.DeviceInfo.FriendlyName] }}
        capture: {{ old_name: Device.DeviceInfo.FriendlyName }}
    steps:
      - set: {{ objects: [ {{ path: Device.DeviceInfo., params: {{ FriendlyName: '{long}' }} }} ] }}
        expect: {{ type: error }}
      - set: {{ objects: [ {{ path: Device.DeviceInfo., params: {{ FriendlyName: '{HOSTILE_ECHOED}' }} }} ] }}
        expect: {{ oper: success }}
      - get: {{ paths: [Device.DeviceInfo.FriendlyName] }}
        expect:
          values: {{ Device.DeviceInfo.FriendlyName: "a name without markup" }}
    teardown:
      - set: {{ objects: [ {{ path: Device.DeviceInfo., params: {{ FriendlyName: "${{old_name}}" }} }} ] }}
"#
    )
}

/// The opening tag of `name` in a dumped DOM, where a script that ran
/// would have left its marker attribute.
fn opening_tag<'a>(dom: &'a str, name: &str) -> &'a str {
    let start = dom
        .find(&format!("<{name}"))
        .unwrap_or_else(|| panic!("<{name}> in the DOM"));
    let end = dom[start..].find('>').map_or(dom.len(), |e| start + e + 1);
    &dom[start..end]
}

/// Runs deviceinfo.yaml (failing under the missing-parameter fault) and the
/// hostile suite; returns the reports directory.
fn run_with_failures(dir: &Path, extra: &[&str]) -> (PathBuf, common::Run) {
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test-cases/deviceinfo.yaml"),
        cases.join("deviceinfo.yaml"),
    )
    .unwrap();
    std::fs::write(cases.join("hostile.yaml"), hostile_suite()).unwrap();
    let out = dir.join("reports");
    let mut args = vec![
        "run",
        "--quiet",
        "--cases",
        cases.to_str().unwrap(),
        "--agent-fault",
        "missing-parameter",
    ];
    args.extend_from_slice(extra);
    let run = common::plugfest(&args, &out);
    assert_eq!(
        run.code, 1,
        "some cases fail: {}\n{}",
        run.stdout, run.stderr
    );
    (out, run)
}

/// HTML escaping as minijinja does it, for building expected snippets.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `<details>` element of one case.
fn case_block<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"case-{id}\""))
        .unwrap_or_else(|| panic!("case {id} in the report"));
    let start = html[..start].rfind("<details").unwrap();
    let end = html[start..]
        .find("\n</details>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

#[test]
fn report_shows_failures_traces_and_escapes_agent_values() {
    let dir = tempfile::tempdir().unwrap();
    let (out, run) = run_with_failures(dir.path(), &[]);
    let html = read(&out.join("report.html"));

    // Self-contained: nothing fetched from anywhere.
    for needle in ["http://", "https://", "src=\"//"] {
        assert!(!html.contains(needle), "report refers to {needle}");
    }
    // Summary per profile and MTP.
    assert!(html.contains("<td>DRAFT-DeviceInfo:1</td>"), "profile row");
    assert!(html.contains("<td>WebSocket</td>"), "MTP row");

    // The fault's failure: highlighted, the failed expectation beside what came back.
    let failed = case_block(&html, "deviceinfo-get-full-parameter-path");
    assert!(failed.contains("class=\"case v-failed\""), "{failed}");
    assert!(failed.contains("<tr class=\"check-fail\">"), "{failed}");
    assert!(failed.contains("not in the response"), "{failed}");
    assert!(failed.contains("R-GET.2"), "{failed}");
    // Its trace: the Records both ways, the Msgs decoded.
    assert!(failed.contains("Message trace"), "{failed}");
    assert!(failed.contains("NoSessionContextRecord"), "{failed}");
    assert!(failed.contains("msg_type: GetResp"), "{failed}");
    // A passing case is not marked failed.
    let verdicts = run.verdicts();
    let passed = verdicts
        .iter()
        .find(|(_, v)| v == "passed")
        .expect("a case passes");
    assert!(case_block(&html, &passed.0).contains("class=\"case v-passed\""));

    // The short hostile value came back from the Agent (the case failed
    // on it: expected a name without markup, got the markup)...
    let hostile = case_block(&html, "hostile-friendly-name");
    assert!(hostile.contains("v-failed"), "{hostile}");
    let echoed = escape(&format!("\"{HOSTILE_ECHOED}\" is not"));
    assert!(
        hostile.contains("<td class=\"actual\">") && hostile.contains(&echoed),
        "the echoed value is the failed check's actual, escaped ({echoed}):\n{hostile}"
    );
    // ...and both values are shown as text, never as markup (the long
    // one in the trace's sent Set).
    assert!(
        !html.contains("<script>window.__pwned"),
        "raw <script> in the page"
    );
    assert!(!html.contains("<img src=x"), "raw <img> in the page");
    assert!(
        hostile.contains("&lt;script&gt;window.__pwned=1"),
        "the long value is shown escaped:\n{hostile}"
    );
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the page's own script"
    );
}

#[test]
fn plugfest_report_regenerates_the_same_reports_from_results_json() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_with_failures(dir.path(), &[]);
    let again = dir.path().join("again");
    let (code, stdout, stderr) = common::plugfest_plain(&[
        "report",
        out.join("results.json").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for file in ["report.html", "junit.xml"] {
        assert_eq!(
            read(&again.join(file)),
            read(&out.join(file)),
            "{file} rebuilt from results.json differs from the run's"
        );
    }

    // Negative twin: a results.json that is not one is refused with its position.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"tool\": 3\n}\n").unwrap();
    let (code, _, stderr) = common::plugfest_plain(&["report", broken.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("broken.json:2:"), "{stderr}");
    assert!(!dir.path().join("report.html").exists());
}

#[test]
fn templates_dir_replaces_the_built_in_styles() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("style");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("report.css"),
        "body { color: rebeccapurple; }\n",
    )
    .unwrap();
    let (out, _) = run_with_failures(dir.path(), &["--templates", templates.to_str().unwrap()]);
    let html = read(&out.join("report.html"));
    assert!(html.contains("rebeccapurple"), "the override is used");
    assert!(
        !html.contains("--pass: #1a7f37"),
        "the built-in CSS is replaced"
    );
    assert!(html.contains("data-ready"), "the built-in script is kept");

    // Negative twins: a missing directory and a broken template stop the run before it starts.
    let (code, _, stderr) = common::plugfest_plain(&["run", "--templates", "/no/such/dir"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/no/such/dir"), "{stderr}");
    std::fs::write(templates.join("report.html"), "{% for x in %}").unwrap();
    let (code, _, stderr) =
        common::plugfest_plain(&["run", "--templates", templates.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("report.html"), "{stderr}");
}

// ---- headless Chromium ----

fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is needed (Debian package chromium; scripts/test.sh installs it)"
    );
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium starts")
}

struct Rendered {
    dom: String,
    /// Chromium's log: console messages and uncaught exceptions land here.
    log: String,
}

fn dump_dom(page: &Path, profile: &Path) -> Rendered {
    dump_dom_query(page, "", profile)
}

/// `query` presets the page's filters, e.g. `?failed=1`.
fn dump_dom_query(page: &Path, query: &str, profile: &Path) -> Rendered {
    let url = format!("file://{}{query}", page.display());
    let out = chromium(
        profile,
        &["--enable-logging=stderr", "--v=0", "--dump-dom", &url],
    );
    Rendered {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Console output of the page's scripts (`CONSOLE(...)` / `Uncaught`).
fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect()
}

fn screenshot(page: &Path, profile: &Path, png: &Path) -> Vec<u8> {
    let url = format!("file://{}", page.display());
    let out = chromium(
        profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,2000",
            &url,
        ],
    );
    std::fs::read(png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}); chromium said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn chromium_renders_the_report_with_no_errors_and_no_injected_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_with_failures(dir.path(), &[]);
    let page = out.join("report.html");

    let rendered = dump_dom(&page, &dir.path().join("chromium-dom"));
    assert!(
        rendered.dom.contains("data-ready=\"1\""),
        "the page's own script ran to the end:\n{}",
        rendered.log
    );
    assert!(
        !opening_tag(&rendered.dom, "html").contains("data-pwned"),
        "the long hostile value ran"
    );
    assert!(
        !opening_tag(&rendered.dom, "body").contains("id="),
        "the echoed hostile value ran"
    );
    assert!(
        !rendered.dom.contains("<img"),
        "the hostile value created an element"
    );
    assert!(
        rendered.dom.contains("&lt;script&gt;window.__pwned"),
        "shown as text"
    );
    assert_eq!(
        console_errors(&rendered.log),
        Vec::<&str>::new(),
        "JS console errors"
    );

    let png = screenshot(
        &page,
        &dir.path().join("chromium-png"),
        &out.join("report.png"),
    );
    assert_eq!(png_size(&png), (1400, 2000));
    // A blank page at the same size compresses to a few kB; a rendered
    // report (tables, coloured badges, text) is many times larger.
    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><title>blank</title>").unwrap();
    let blank = screenshot(
        &blank_page,
        &dir.path().join("chromium-blank"),
        &dir.path().join("blank.png"),
    );
    assert!(
        png.len() > 5 * blank.len(),
        "report screenshot {} bytes vs blank page {} bytes",
        png.len(),
        blank.len()
    );
    if let Ok(keep) = std::env::var("PLUGFEST_KEEP_SCREENSHOT") {
        std::fs::copy(out.join("report.png"), keep).unwrap();
    }
}

/// Negative twin: with a template that marks the values safe (no
/// escaping), the same checks see the hostile value run.
#[test]
fn chromium_check_catches_values_rendered_unescaped() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("unsafe");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("report.html"),
        "<!DOCTYPE html><html><body>{% for c in run.cases %}{% for s in c.steps %}{% for k in s.checks %}<p>{{ k.actual|safe }}</p>{% endfor %}{% endfor %}{% endfor %}</body></html>",
    )
    .unwrap();
    let (out, _) = run_with_failures(dir.path(), &["--templates", templates.to_str().unwrap()]);
    let rendered = dump_dom(&out.join("report.html"), &dir.path().join("chromium"));
    assert!(
        opening_tag(&rendered.dom, "body").contains("id=\"9\""),
        "the unescaped echoed value ran:\n{}",
        rendered.dom
    );
    assert!(rendered.dom.contains("<img"), "{}", rendered.dom);
}

/// Negative twin: a script error in the page shows up in the console check.
#[test]
fn chromium_check_catches_script_errors() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("broken-js");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("report.js"),
        "document.getElementById(\"nope\").click();\n",
    )
    .unwrap();
    let (out, _) = run_with_failures(dir.path(), &["--templates", templates.to_str().unwrap()]);
    let rendered = dump_dom(&out.join("report.html"), &dir.path().join("chromium"));
    assert!(
        !console_errors(&rendered.log).is_empty(),
        "{}",
        rendered.log
    );
    assert!(!rendered.dom.contains("data-ready"));
}

/// The page's Content-Security-Policy admits only its own script (by
/// hash): with the same unescaping template plus the built-in policy, the
/// hostile markup lands in the DOM but its handler never runs, while the
/// page's script still does.
#[test]
fn content_security_policy_stops_markup_that_escaping_missed() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("unsafe-with-csp");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("report.html"),
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src '{{ script_hash }}'\"></head><body>{% for c in run.cases %}{% for s in c.steps %}{% for k in s.checks %}<p>{{ k.actual|safe }}</p>{% endfor %}{% endfor %}{% endfor %}<script>{{ script|safe }}</script></body></html>",
    )
    .unwrap();
    std::fs::write(
        templates.join("report.js"),
        "document.body.setAttribute(\"data-ready\", \"1\");",
    )
    .unwrap();
    let (out, _) = run_with_failures(dir.path(), &["--templates", templates.to_str().unwrap()]);
    let rendered = dump_dom(&out.join("report.html"), &dir.path().join("chromium"));
    assert!(rendered.dom.contains("<img"), "the markup is in the DOM");
    let body = opening_tag(&rendered.dom, "body");
    assert!(
        body.contains("data-ready=\"1\""),
        "the hashed script ran: {body}"
    );
    assert!(
        !body.contains("id="),
        "the inline handler was blocked: {body}"
    );
}

/// The "failed only" filter (preset through the address) hides every
/// passed case and no failed one; without it nothing is hidden.
#[test]
fn failed_only_filter_hides_exactly_the_passed_cases() {
    let dir = tempfile::tempdir().unwrap();
    let (out, run) = run_with_failures(dir.path(), &[]);
    let page = out.join("report.html");
    let verdicts = run.verdicts();
    let hidden = |dom: &str, id: &str| opening_tag_of_case(dom, id).contains("hidden");

    let filtered = dump_dom_query(&page, "?failed=1", &dir.path().join("chromium-f"));
    let all = dump_dom(&page, &dir.path().join("chromium-a"));
    for (id, verdict) in &verdicts {
        assert_eq!(
            hidden(&filtered.dom, id),
            verdict == "passed",
            "{id} ({verdict}) with failed only"
        );
        assert!(!hidden(&all.dom, id), "{id} hidden without a filter");
    }
    assert!(
        verdicts.iter().any(|(_, v)| v == "passed") && verdicts.iter().any(|(_, v)| v == "failed")
    );
}

/// The `<details ...>` opening tag of one case in a dumped DOM.
fn opening_tag_of_case<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!("id=\"case-{id}\""))
        .unwrap_or_else(|| panic!("case {id}"));
    let start = dom[..at].rfind("<details").unwrap();
    let end = dom[start..].find('>').map_or(dom.len(), |e| start + e + 1);
    &dom[start..end]
}
