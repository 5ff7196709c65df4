//! Many projects in one repository: documents name `project_id` and `region`; one run plans and
//! applies every project against its own endpoint (here, two emulators reached through the
//! official SDKs' per-region override variables), with one combined plan and report grouped by
//! project. `--project-id` narrows the run; a saved plan of several projects applies them all.

use crate::support::{emulator_with, manifests, path_str, seed_yaml, tags_of, Desktag, AK, SK};
use desktag_emulator::EmulatorHandle;

const P1: &str = "11111111111111111111111111111111";
const P2: &str = "22222222222222222222222222222222";
const D1: &str = "11111111-0000-0000-0000-000000000001";
const D2: &str = "22222222-0000-0000-0000-000000000002";

fn seed(project: &str, id: &str, name: &str) -> desktag_emulator::Seed {
    seed_yaml(&format!(
        "project_id: {project}\ndesktops:\n  - id: {id}\n    name: {name}\n    tags: {{keep: x}}\n"
    ))
}

/// One document per project, each in its own region, in two files.
fn two_projects() -> tempfile::TempDir {
    manifests(&[
        (
            "north.yaml",
            &format!(
                "version: 1\nproject_id: {P1}\nregion: cn-north-4\ndesktops:\n  - name: NORTH-01\n    tags: {{env: prod}}\n"
            ),
        ),
        (
            "south.yaml",
            &format!(
                "version: 1\nproject_id: {P2}\nregion: ap-southeast-1\ndesktops:\n  - name: SOUTH-01\n    tags: {{env: dev, team: b}}\n"
            ),
        ),
    ])
}

/// Two projects in two regions: an emulator for each, and the manifests of both.
struct TwoRegions {
    north: EmulatorHandle,
    south: EmulatorHandle,
    dir: tempfile::TempDir,
    _runtimes: [tokio::runtime::Runtime; 2],
}

impl TwoRegions {
    fn new() -> TwoRegions {
        let (north_rt, north) = emulator_with(seed(P1, D1, "NORTH-01"), |_| {});
        let (south_rt, south) = emulator_with(seed(P2, D2, "SOUTH-01"), |_| {});
        TwoRegions {
            north,
            south,
            dir: two_projects(),
            _runtimes: [north_rt, south_rt],
        }
    }
}

impl TwoRegions {
    /// The binary with credentials and each region's endpoint pointed at its emulator.
    fn desktag(&self) -> Desktag {
        let (north, south) = (&self.north, &self.south);
        Desktag::new()
            .env("HUAWEICLOUD_SDK_AK", AK)
            .env("HUAWEICLOUD_SDK_SK", SK)
            .env(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_CN_NORTH_4",
                north.base_url(),
            )
            .env(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_AP_SOUTHEAST_1",
                south.base_url(),
            )
    }
}

#[test]
fn a_two_project_run_plans_and_applies_both_and_reports_per_project() {
    let two = TwoRegions::new();
    let (north, south, dir) = (&two.north, &two.south, &two.dir);
    let m = path_str(dir.path());

    let plan = two
        .desktag()
        .args(["plan", "--format", "json", m])
        .run()
        .code(0);
    let doc = plan.json();
    assert_eq!(doc["summary"]["create"], 3, "{doc:#}");
    assert_eq!(doc["has_changes"], true);
    let projects = doc["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 2);
    assert_eq!(projects[0]["project_id"], P1);
    assert_eq!(projects[0]["region"], "cn-north-4");
    assert!(projects[0]["endpoint"]
        .as_str()
        .unwrap()
        .starts_with(&north.base_url()));
    assert_eq!(projects[1]["project_id"], P2);
    assert!(projects[1]["endpoint"]
        .as_str()
        .unwrap()
        .starts_with(&south.base_url()));
    assert_eq!(projects[1]["summary"]["create"], 2);
    assert_eq!(north.writes() + south.writes(), 0, "plan never writes");
    // Log lines of each project's part say whose they are.
    assert!(
        plan.stderr.contains(&format!("project{{id={P2}}}")),
        "{}",
        plan.stderr
    );

    let text = two.desktag().args(["plan", m]).run().code(0);
    assert!(
        text.stdout
            .contains(&format!("== Project {P1} at {}/ ==", north.base_url())),
        "{}",
        text.stdout
    );
    assert_eq!(
        text.stdout.lines().last().unwrap(),
        "All 2 projects: Plan: 3 to create, 0 to overwrite, 0 to delete on 2 desktops; 0 unchanged; 0 blocked."
    );

    let apply = two
        .desktag()
        .args(["apply", "--auto-approve", "--report-format", "json", m])
        .run()
        .code(0);
    let report = apply.json();
    assert_eq!(report["totals"]["applied"], 3, "{report:#}");
    let reports = report["projects"].as_array().unwrap();
    assert_eq!(reports[0]["project_id"], P1);
    assert_eq!(reports[0]["totals"]["applied"], 1);
    assert_eq!(reports[1]["project_id"], P2);
    assert_eq!(reports[1]["totals"]["applied"], 2);
    assert_eq!(
        tags_of(north, D1).get("env").map(|v| v.as_str()),
        Some("prod")
    );
    assert_eq!(
        tags_of(south, D2).get("team").map(|v| v.as_str()),
        Some("b")
    );
    assert_eq!(
        tags_of(south, D2).get("keep").map(|v| v.as_str()),
        Some("x")
    );

    let again = two
        .desktag()
        .args(["plan", "--detailed-exitcode", m])
        .run()
        .code(0);
    assert!(
        again
            .stdout
            .ends_with("All 2 projects: No changes. Desktop tags match the manifests.\n"),
        "{}",
        again.stdout
    );
}

#[test]
fn project_id_narrows_the_run_to_one_project() {
    let two = TwoRegions::new();
    let (north, south, dir) = (&two.north, &two.south, &two.dir);
    let m = path_str(dir.path());
    let apply = two
        .desktag()
        .args([
            "apply",
            "--auto-approve",
            "--project-id",
            P2,
            "--report-format",
            "json",
            m,
        ])
        .run()
        .code(0);
    // One project: the report is the plain one-project document.
    assert_eq!(apply.json()["projects"][0]["project_id"], P2);
    assert_eq!(
        north.requests().len(),
        0,
        "the other project is not touched"
    );
    assert_eq!(
        tags_of(south, D2).get("env").map(|v| v.as_str()),
        Some("dev")
    );
}

#[test]
fn a_target_in_one_project_is_not_unmatched_in_the_other() {
    let two = TwoRegions::new();
    let (_north, _south, dir) = (&two.north, &two.south, &two.dir);
    let m = path_str(dir.path());
    let plan = two
        .desktag()
        .args(["plan", "--target", "SOUTH-01", "--target", "NOWHERE", m])
        .run()
        .code(0);
    assert!(
        !plan.stderr.contains("`SOUTH-01` matches no desktop"),
        "{}",
        plan.stderr
    );
    assert_eq!(
        plan.stderr
            .matches("--target `NOWHERE` matches no desktop")
            .count(),
        1,
        "{}",
        plan.stderr
    );
    assert!(
        plan.stdout.ends_with(
            "All 2 projects: Plan: 2 to create, 0 to overwrite, 0 to delete on 1 desktop; 0 unchanged; 0 blocked.\n"
        ),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_saved_plan_of_two_projects_applies_both_and_can_be_narrowed() {
    let two = TwoRegions::new();
    let (north, south, dir) = (&two.north, &two.south, &two.dir);
    let m = path_str(dir.path());
    let out = dir.path().join("plan.json");
    two.desktag()
        .args(["plan", "--out", out.to_str().unwrap(), m])
        .run()
        .code(0);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(saved["kind"], "desktag-plan");
    assert_eq!(saved["projects"].as_array().unwrap().len(), 2);

    // Narrowed to one project first: only that emulator is written.
    two.desktag()
        .args(["apply", "--plan", out.to_str().unwrap(), "--project-id", P1])
        .run()
        .code(0);
    assert_eq!(north.writes(), 1);
    assert_eq!(south.writes(), 0);

    // The whole file: the first project is now stale (it has the tag), so nothing is written.
    let stale = two
        .desktag()
        .args(["apply", "--plan", out.to_str().unwrap()])
        .run()
        .code(1);
    assert!(stale.stderr.contains("stale"), "{}", stale.stderr);
    assert_eq!(south.writes(), 0, "no project is written when one is stale");

    // A fresh plan of both, applied whole.
    two.desktag()
        .args(["plan", "--out", out.to_str().unwrap(), m])
        .run()
        .code(0);
    let apply = two
        .desktag()
        .args(["apply", "--plan", out.to_str().unwrap()])
        .run()
        .code(0);
    assert!(
        apply.stdout.contains("All 2 projects: Apply: 2 applied"),
        "{}",
        apply.stdout
    );
    assert_eq!(
        tags_of(south, D2).get("env").map(|v| v.as_str()),
        Some("dev")
    );

    let unknown = two
        .desktag()
        .args([
            "apply",
            "--plan",
            out.to_str().unwrap(),
            "--project-id",
            "p9",
        ])
        .run()
        .code(1);
    assert!(
        unknown.stderr.contains("is not one of the projects"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn the_markdown_comment_has_one_marker_for_every_project() {
    let two = TwoRegions::new();
    let (_north, _south, dir) = (&two.north, &two.south, &two.dir);
    let plan = two
        .desktag()
        .args(["plan", "--format", "markdown", path_str(dir.path())])
        .run()
        .code(0);
    assert!(
        plan.stdout
            .starts_with(&format!("<!-- desktag:plan project={P1},{P2} -->\n")),
        "{}",
        plan.stdout
    );
    assert_eq!(plan.stdout.matches("<!-- desktag:").count(), 1);
    assert!(plan.stdout.contains(&format!("## Plan for `{P1}`")));
    assert!(plan.stdout.contains(&format!("## Plan for `{P2}`")));
}

#[test]
fn one_endpoint_for_projects_in_two_regions_is_refused() {
    let (_rt1, north) = emulator_with(seed(P1, D1, "NORTH-01"), |_| {});
    let dir = two_projects();
    let run = Desktag::new()
        .against(&north)
        .args(["plan", path_str(dir.path())])
        .run()
        .code(1);
    assert!(
        run.stderr.contains(
            "DESKTAG_ENDPOINT points every project at one URL, but the manifests place the \
             projects in regions `ap-southeast-1`, `cn-north-4`"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(north.requests().len(), 0);
}

#[test]
fn documents_naming_no_project_beside_several_that_do_are_refused() {
    let dir = two_projects();
    std::fs::write(
        dir.path().join("loose.yaml"),
        "version: 1\ndesktops:\n  - name: X\n    tags: {a: b}\n",
    )
    .unwrap();
    let run = Desktag::new()
        .args(["plan", "--emulator", path_str(dir.path())])
        .run()
        .code(1);
    assert!(
        run.stderr.contains("also hold documents that name none"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_project_given_two_regions_is_a_located_error() {
    let dir = manifests(&[
        (
            "a.yaml",
            &format!("version: 1\nproject_id: {P1}\nregion: cn-north-4\ndesktops: []\n"),
        ),
        (
            "b.yaml",
            &format!("version: 1\nproject_id: {P1}\nregion: cn-east-3\ndesktops: []\n"),
        ),
        ("c.yaml", "version: 1\nregion: cn-east-3\ndesktops: []\n"),
        (
            "d.yaml",
            &format!("version: 1\nproject_id: {P2}\nregion: CN_North\ndesktops: []\n"),
        ),
    ]);
    let run = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(1);
    let e = &run.stderr;
    assert!(
        e.contains("b.yaml:3:9") && e.contains("project `11111111111111111111111111111111` is given region `cn-east-3` here and region `cn-north-4` at"),
        "{e}"
    );
    assert!(
        e.contains("c.yaml:2:1") && e.contains("`region` without `project_id`"),
        "{e}"
    );
    assert!(
        e.contains("d.yaml:3:9") && e.contains("`CN_North` is not a region id"),
        "{e}"
    );
}

#[test]
fn check_audits_every_project_with_one_junit_suite_each() {
    let two = TwoRegions::new();
    let (_north, _south, dir) = (&two.north, &two.south, &two.dir);
    // Only the south project has a policy, which its desktop breaks now.
    std::fs::write(
        dir.path().join("south-policy.yaml"),
        format!(
            "version: 1\nproject_id: {P2}\nregion: ap-southeast-1\npolicy:\n  required: [owner]\n"
        ),
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let check = two
        .desktag()
        .args([
            "check",
            "--junit",
            junit.to_str().unwrap(),
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    assert!(
        check.stdout.ends_with(
            "All 2 projects: Policy: 1 of 2 desktops breaks the rules; coverage: 2 of 2 managed by the manifests.\n"
        ),
        "{}",
        check.stdout
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert!(
        xml.contains(&format!(
            r#"<testsuite name="policy {P2}" tests="1" failures="1">"#
        )),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            r#"<testsuite name="policy {P1}" tests="1" failures="0">"#
        )),
        "{xml}"
    );
}

#[test]
fn validate_checks_each_project_on_its_own() {
    // The same name in two projects wanting different values is no conflict; a policy binds
    // only its own project.
    let dir = manifests(&[
        (
            "a.yaml",
            &format!("version: 1\nproject_id: {P1}\ndesktops:\n  - name: X\n    tags: {{env: a}}\n"),
        ),
        (
            "b.yaml",
            &format!("version: 1\nproject_id: {P2}\npolicy:\n  allowed: {{env: [b]}}\ndesktops:\n  - name: X\n    tags: {{env: b}}\n"),
        ),
    ]);
    Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(0);
    // A document naming no project beside two projects: a warning, reported once.
    std::fs::write(
        dir.path().join("c.yaml"),
        "version: 1\ndesktops:\n  - name: Y\n    tags: {env: c}\n",
    )
    .unwrap();
    let run = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run();
    // `env: c` breaks the second project's policy, which the unnamed document is checked with.
    assert_eq!(
        run.stderr
            .matches("names no `project_id`, beside documents of 2 projects")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("c.yaml:4:12").count(),
        1,
        "{}",
        run.stderr
    );
}

/// A port nothing listens on: every connection is refused.
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[test]
fn one_unreachable_project_fails_alone_and_the_report_covers_both() {
    let two = TwoRegions::new();
    let dir = &two.dir;
    let dead = dead_endpoint();
    let run = || {
        two.desktag()
            .env("HUAWEICLOUD_SDK_REGION_WORKSPACE_AP_SOUTHEAST_1", &dead)
    };
    let report = dir.path().join("report.json");
    let ran = run()
        .args([
            "apply",
            "--max-attempts",
            "1",
            "--auto-approve",
            "--report",
            path_str(&report),
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    // The healthy project is applied.
    assert_eq!(
        tags_of(&two.north, D1).get("env").map(|v| v.as_str()),
        Some("prod")
    );
    assert!(
        ran.stderr.ends_with(&format!(
            "error: project `{P2}` failed (see above); the other projects were applied\n"
        )),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stdout
            .contains(&format!("== Project {P2} at {dead}/ ==")),
        "{}",
        ran.stdout
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["projects"][0]["project_id"], P1);
    assert_eq!(doc["totals"]["applied"], 1);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/report.schema.json")).unwrap();
    let schema = jsonschema::draft7::new(&schema).unwrap();
    assert!(schema.is_valid(&doc), "{doc:#}");
    let failed = &doc["failed_projects"][0];
    assert_eq!(failed["project_id"], P2);
    assert!(failed["endpoint"].as_str().unwrap().starts_with(&dead));
    assert!(!failed["error"].as_str().unwrap().is_empty());

    // The plan document says the same, and follows its schema.
    let plan = run()
        .args([
            "plan",
            "--max-attempts",
            "1",
            "--format",
            "json",
            path_str(dir.path()),
        ])
        .run()
        .code(1)
        .json();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/plan.schema.json")).unwrap();
    assert!(
        jsonschema::draft7::new(&schema).unwrap().is_valid(&plan),
        "{plan:#}"
    );
    assert_eq!(plan["failed_projects"][0]["project_id"], P2);
    assert_eq!(plan["projects"].as_array().unwrap().len(), 1);

    // --fail-fast: today's behaviour, nothing planned past the dead project.
    let plan = run()
        .args([
            "plan",
            "--max-attempts",
            "1",
            "--fail-fast",
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    assert_eq!(plan.stdout, "");
}
