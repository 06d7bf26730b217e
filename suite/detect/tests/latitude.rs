//! The latitude matrix holds: every permitted variant of the reference, with the profile its
//! owner would write, passes the whole catalogue and every property (no fail or error at
//! any level, warned exactly as declared); every variant names its clause and quotes it;
//! and `reports/latitude.md` is what the matrix generates today.

use std::collections::BTreeSet;

use qoauth_detect::latitude;
use qoauth_harness::Catalogue;
use qoauth_reference::Variant;
use qoauth_testkit::paths::assert_current;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_permitted_variant_passes_and_the_report_is_current() {
    let catalogue = Catalogue::load(&Catalogue::default_dir()).expect("the case catalogue loads");
    let opts = qoauth_detect::MatrixOptions::default();
    let rows = latitude::run(&catalogue, &opts, &[])
        .await
        .expect("the latitude matrix runs");
    let rendered = latitude::render(&rows, &opts);
    assert!(
        Variant::ALL.len() >= 20,
        "the reference has {} variants, fewer than 20",
        Variant::ALL.len()
    );
    let entries = latitude::entries();
    assert_eq!(rows.len(), entries.len());
    // Every variant is some entry's alone, so a failure names the variant.
    for v in Variant::ALL {
        assert!(
            entries.iter().any(|e| e.variants == [*v]),
            "variant {} has no entry of its own",
            v.name()
        );
    }
    for e in &entries {
        for (clause, quote) in e.permissions() {
            assert!(
                !clause.trim().is_empty() && quote.len() > 20,
                "{}: a permission needs its clause and its words",
                e.name
            );
        }
        // A declared warning must be a SHOULD case or property that exists.
        for w in e.warns {
            let known = match w.strip_prefix("property.") {
                Some(p) => qoauth_props::property_names().contains(&p),
                None => catalogue
                    .cases
                    .iter()
                    .any(|c| c.id == *w && c.level == qoauth_harness::result::Level::Should),
            };
            assert!(
                known,
                "{}: declares {w}, which is no SHOULD case or property",
                e.name
            );
        }
    }
    let failing: Vec<String> = rows
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            let odd: BTreeSet<&String> = r.warned.symmetric_difference(&r.declared).collect();
            format!(
                "{}: {:?}; warned or declared, not both: {odd:?}",
                r.name, r.failures
            )
        })
        .collect();
    assert!(
        failing.is_empty(),
        "variants a correct server may choose fail the suite: {failing:#?}"
    );
    // Each entry ran cases and properties: an entry that judged nothing proves nothing.
    for r in &rows {
        assert!(
            r.cases.pass > 200,
            "{} passed only {} cases",
            r.name,
            r.cases.pass
        );
        assert!(
            r.properties.pass > 10,
            "{} passed only {} properties",
            r.name,
            r.properties.pass
        );
    }
    assert_current(
        "reports/latitude.md",
        &rendered,
        "cargo run -p qoauth --features faults -- latitude --write reports/latitude.md",
    );
}
