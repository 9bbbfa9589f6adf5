//! The receipt page, PDF and text: every required field (STANDARDS.md §7.2,
//! §7.3), in each language, hostile strings escaped, no card number.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use joule_domain::payments::card::CardSummary;
use joule_domain::receipts::receipt::{fixtures, Language, PaymentMethod, Receipt, ReceiptNumber};
use joule_receipts::{render_html, render_pdf, render_text};

/// A fixture receipt with a fixed number (a random one could contain a
/// digit run that the card-number scan would have to think about).
fn receipt(language: Language) -> Receipt {
    let mut r = fixtures::receipt(language);
    r.number = ReceiptNumber::parse("R-2026-000123").unwrap();
    r
}

/// What every language must show, as it is written in that language.
fn required(language: Language) -> Vec<&'static str> {
    let common = vec![
        "R-2026-000123",        // receipt / transaction number
        "Joule Charging GmbH",  // operator
        "Hauptstraße 1",        // operator address
        "DE123456789",          // operator VAT id
        "Parkhaus Süd",         // site
        "DE*JOU*E0001*2",       // EVSE id
        "CP-0001",              // charger
        "4242",                 // card last 4
        "Visa",                 // card brand
        "OCMF|",                // signed meter data
        "1-b:1.8.0",            // … verbatim
        "1\u{a0}h 30\u{a0}min", // charging time
        "42",                   // OCPP transaction id
    ];
    let specific: &[&str] = match language {
        Language::En => &[
            "23.567\u{a0}kWh",
            "0.39\u{a0}EUR",
            "1.20\u{a0}EUR",
            "0.50\u{a0}EUR",
            "19%",
            "11.49\u{a0}EUR",
            "2.19\u{a0}EUR",
            "13.68\u{a0}EUR",
            "2026-03-02 11:00:00 CET",
            "2026-03-02 12:30:00 CET",
            "Total incl. VAT",
        ],
        Language::De => &[
            "23,567\u{a0}kWh",
            "0,39\u{a0}EUR",
            "1,20\u{a0}EUR",
            "0,50\u{a0}EUR",
            "19\u{a0}%",
            "11,49\u{a0}EUR",
            "2,19\u{a0}EUR",
            "13,68\u{a0}EUR",
            "02.03.2026 11:00:00 CET",
            "02.03.2026 12:30:00 CET",
            "Summe brutto",
            "USt-IdNr.",
        ],
        Language::Fr => &[
            "23,567\u{a0}kWh",
            "0,39\u{a0}EUR",
            "13,68\u{a0}EUR",
            "02/03/2026 11:00:00 CET",
            "02/03/2026 12:30:00 CET",
            "Total TTC",
            "Énergie",
        ],
        Language::Es => &[
            "23,567\u{a0}kWh",
            "0,39\u{a0}EUR",
            "13,68\u{a0}EUR",
            "02/03/2026 11:00:00 CET",
            "Total con IVA",
            "Energía",
        ],
    };
    common.into_iter().chain(specific.iter().copied()).collect()
}

/// Undoes the escaping maud applies to text, to look for values in a page.
fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// 13–19-digit runs (ignoring spaces and dashes inside) that pass Luhn:
/// what a card number looks like (STANDARDS.md §7.1 checklist).
fn card_numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    for start in 0..chars.len() {
        if !chars[start].is_ascii_digit() {
            continue;
        }
        let mut digits = String::new();
        for &c in &chars[start..] {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if c != ' ' && c != '-' {
                break;
            }
            if (13..=19).contains(&digits.len()) && luhn(&digits) {
                found.push(digits.clone());
            }
            if digits.len() > 19 {
                break;
            }
        }
    }
    found
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn pdf_text(bytes: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(bytes).expect("the PDF parses");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("text is extractable")
}

#[test]
fn html_shows_every_required_field_in_each_language() {
    for language in Language::ALL {
        let html = render_html(&receipt(language));
        assert!(html.starts_with("<!DOCTYPE html>"), "{language:?}");
        assert!(html.contains(&format!("<html lang=\"{}\">", language.code())));
        let text = unescape(&html);
        for needle in required(language) {
            assert!(text.contains(needle), "{language:?}: {needle:?} missing");
        }
    }
}

#[test]
fn html_is_self_contained_and_accessible() {
    let html = render_html(&receipt(Language::En));
    for forbidden in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains("@media print"));
    assert!(html.contains("<th scope=\"col\">"));
    assert!(html.contains("<th scope=\"row\">"));
}

#[test]
fn hostile_strings_are_escaped() {
    let mut r = receipt(Language::En);
    r.operator.name = "<script>alert(1)</script>".into();
    r.operator.address = vec!["\"><img src=x onerror=alert(2)>".into()];
    r.evse_id = Some("E&1</td><b>".into());
    r.operator.complaint_notice = Some("<iframe src=//evil>".into());
    r.signed_meter_data[0].data = "OCMF|</pre><script>alert(3)</script>|{}".into();
    let html = render_html(&r);
    for raw in ["<script", "<img", "<iframe", "<b>", "</td><b>"] {
        assert!(!html.contains(raw), "{raw} reached the page unescaped");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("E&amp;1&lt;/td&gt;&lt;b&gt;"));
    assert!(html.contains("&lt;iframe src=//evil&gt;"));
    assert!(html.contains("OCMF|&lt;/pre&gt;&lt;script&gt;"));
}

#[test]
fn no_card_number_can_be_printed() {
    // The only card type a receipt holds refuses anything but 4 digits.
    assert!(CardSummary::new("visa", "4242424242424242", None, None).is_none());
    let mut r = receipt(Language::En);
    r.payment =
        PaymentMethod::Card(CardSummary::new("mastercard", "5454", Some(1), Some(2031)).unwrap());
    let html = unescape(&render_html(&r));
    let text = render_text(&r);
    let pdf = pdf_text(&render_pdf(&r).unwrap());
    for (what, body) in [("html", &html), ("text", &text), ("pdf", &pdf)] {
        assert_eq!(card_numbers(body), Vec::<String>::new(), "{what}");
        assert!(body.contains("5454"), "{what}: last 4 missing");
        assert!(body.contains("Mastercard"), "{what}: brand missing");
    }
    // The scan itself finds a card number where there is one.
    assert!(card_numbers("card 4242 4242 4242 4242.").contains(&"4242424242424242".to_owned()));
}

#[test]
fn other_payment_methods_are_named() {
    let mut r = receipt(Language::De);
    r.payment = PaymentMethod::Rfid;
    assert!(render_html(&r).contains("RFID-Karte"));
    r.payment = PaymentMethod::Account;
    assert!(render_text(&r).contains("Kundenkonto"));
}

#[test]
fn pdf_is_a_pdf_with_the_receipt_text() {
    for language in Language::ALL {
        let bytes = render_pdf(&receipt(language)).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{language:?}");
        let text = pdf_text(&bytes);
        for needle in required(language) {
            // Text extraction splits lines; the signed data wraps.
            if needle == "1-b:1.8.0" {
                continue;
            }
            assert!(
                text.contains(needle),
                "{language:?}: {needle:?} missing from the PDF text:\n{text}"
            );
        }
    }
}

#[test]
fn pdf_embeds_its_font_and_stays_small() {
    let bytes = render_pdf(&receipt(Language::Fr)).unwrap();
    // DejaVu Sans is 740 KB; the cut embedded here keeps a receipt small.
    assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
    let doc = lopdf::Document::load_mem(&bytes).unwrap();
    let embedded = doc.objects.values().any(|o| {
        o.as_dict()
            .ok()
            .is_some_and(|d| d.has(b"FontFile2") || d.has(b"FontFile3"))
    });
    assert!(embedded, "the font is embedded");
}

#[test]
fn a_long_signed_value_flows_onto_more_pages() {
    let mut r = receipt(Language::En);
    let long = format!(
        "OCMF|{{\"RD\":[{}]}}|{{\"SD\":\"AB\"}}",
        "{\"RV\":1.0},".repeat(2_500)
    );
    r.signed_meter_data[0].data = long;
    let bytes = render_pdf(&r).unwrap();
    let doc = lopdf::Document::load_mem(&bytes).unwrap();
    assert!(
        doc.get_pages().len() >= 2,
        "{} pages",
        doc.get_pages().len()
    );
    let text = pdf_text(&bytes);
    assert!(
        text.contains("Issued"),
        "the footer follows the signed data"
    );
}

#[test]
fn text_has_the_totals_and_signed_data() {
    let text = render_text(&receipt(Language::Fr));
    assert!(text.contains("Total TTC: 13,68\u{a0}EUR"));
    assert!(text.contains("Données de comptage signées"));
    assert!(text.contains("OCMF|{\"FV\":\"1.0\""));
}
