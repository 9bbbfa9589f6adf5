//! The receipt email against a real SMTP server: Python's aiosmtpd, started
//! by the test (tests/smtp_sink.py), which parses what it receives with
//! Python's own MIME parser.
//!
//! Needs `JOULE_TEST_PYTHON`: a python with aiosmtpd (scripts/test sets it to
//! its venv). Skipped with a note when unset, and a failure when CI=true.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use joule_domain::receipts::receipt::{fixtures, Language, Receipt, ReceiptNumber};
use joule_mail::{EmailError, SmtpConfig, SmtpMailer, SmtpSecurity};
use serde_json::Value;

fn python() -> Option<PathBuf> {
    match std::env::var_os("JOULE_TEST_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true requires JOULE_TEST_PYTHON (a python with aiosmtpd) for the SMTP test"
            );
            eprintln!(
                "skipped: set JOULE_TEST_PYTHON to a python with aiosmtpd to run the SMTP test"
            );
            None
        }
    }
}

/// A running aiosmtpd that saves messages into `dir`; stopped on drop.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start(python: &Path, auth: Option<(&str, &str)>) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut cmd = Command::new(python);
        cmd.arg(script)
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((user, password)) = auth {
            cmd.env("AUTH_USER", user).env("AUTH_PASSWORD", password);
        }
        let mut child = cmd.spawn().expect("start the SMTP test server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!("the SMTP server did not start (is aiosmtpd installed?): {line:?}")
            });
        SmtpSink { child, port, dir }
    }

    fn config(&self, credentials: Option<(&str, &str)>) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(self.port),
            security: SmtpSecurity::None,
            username: credentials.map(|c| c.0.to_owned()),
            password: credentials.map(|c| c.1.to_owned()),
            from: "Joule Charging <receipts@joule.example>".into(),
            timeout_s: 20,
        }
    }

    /// The summary of the `n`th message received. The server writes it
    /// before answering DATA, so it exists once `send` has returned.
    fn message(&self, n: usize) -> Value {
        let path = self.dir.path().join(format!("{n}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("message {n} not received ({e})"));
        serde_json::from_str(&text).unwrap()
    }

    fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .count()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn receipt(language: Language) -> Receipt {
    let mut r = fixtures::receipt(language);
    r.number = ReceiptNumber::parse("R-2026-000123").unwrap();
    r
}

fn part<'a>(msg: &'a Value, content_type: &str) -> &'a Value {
    msg["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {msg}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_email_reaches_a_real_smtp_server() {
    let Some(python) = python() else { return };
    let sink = SmtpSink::start(&python, None);
    let mailer = SmtpMailer::new(&sink.config(None)).unwrap();
    mailer
        .send(&receipt(Language::De), "Fahrer <driver@example.org>")
        .await
        .unwrap();

    let msg = sink.message(1);
    assert_eq!(msg["mail_from"], "receipts@joule.example");
    assert_eq!(msg["rcpt_tos"], serde_json::json!(["driver@example.org"]));
    assert_eq!(
        msg["subject"],
        "Ladequittung R-2026-000123 – Joule Charging GmbH"
    );
    part(&msg, "multipart/mixed");
    part(&msg, "multipart/alternative");
    let text = part(&msg, "text/plain")["text"].as_str().unwrap();
    assert!(text.contains("Summe brutto: 13,68\u{a0}EUR"), "{text}");
    assert!(text.contains("23,567\u{a0}kWh"));
    assert!(text.contains("Visa endend auf 4242"));
    let html = part(&msg, "text/html")["text"].as_str().unwrap();
    assert!(html.contains("<html lang=\"de\">"));
    assert!(html.contains("Parkhaus Süd"));
    let pdf = part(&msg, "application/pdf");
    assert_eq!(pdf["filename"], "R-2026-000123.pdf");
    assert!(pdf["head"].as_str().unwrap().starts_with("%PDF-"));
    assert!(pdf["size"].as_u64().unwrap() > 1_000);

    // The pooled transport sends a second receipt, in another language.
    mailer
        .send(&receipt(Language::Fr), "driver@example.org")
        .await
        .unwrap();
    assert!(sink.message(2)["subject"]
        .as_str()
        .unwrap()
        .starts_with("Reçu de recharge R-2026-000123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_credentials_are_used_and_a_wrong_password_is_an_error() {
    let Some(python) = python() else { return };
    let sink = SmtpSink::start(&python, Some(("joule", "s3cret")));

    let mailer = SmtpMailer::new(&sink.config(Some(("joule", "s3cret")))).unwrap();
    mailer
        .send(&receipt(Language::En), "driver@example.org")
        .await
        .unwrap();
    assert_eq!(sink.message(1)["auth"], true);

    let wrong = SmtpMailer::new(&sink.config(Some(("joule", "wrong")))).unwrap();
    let err = wrong
        .send(&receipt(Language::En), "driver@example.org")
        .await
        .unwrap_err();
    assert!(matches!(err, EmailError::Smtp(_)), "{err}");
    assert_eq!(sink.count(), 1, "nothing was delivered without AUTH");
}

#[test]
fn bad_settings_fail_early_and_the_password_is_never_printed() {
    let mut config = SmtpConfig {
        host: "127.0.0.1".into(),
        port: None,
        security: SmtpSecurity::Starttls,
        username: Some("joule".into()),
        password: Some("s3cret".into()),
        from: "not an address".into(),
        timeout_s: 5,
    };
    assert!(!format!("{config:?}").contains("s3cret"));
    assert!(matches!(
        SmtpMailer::new(&config),
        Err(EmailError::Address { field: "from", .. })
    ));
    config.from = "receipts@joule.example".into();
    config.password = None;
    assert!(matches!(
        SmtpMailer::new(&config),
        Err(EmailError::Config(_))
    ));
    let r = receipt(Language::En);
    assert!(matches!(
        joule_mail::receipt_message(&r, "receipts@joule.example", "nobody"),
        Err(EmailError::Address { field: "to", .. })
    ));
}
