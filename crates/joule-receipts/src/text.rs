//! The receipt as plain text: the first part of the email, for mail clients
//! that show no HTML and for screen readers that prefer it.

use std::fmt::Write;

use joule_domain::receipts::receipt::Receipt;

use crate::view::View;

/// The receipt in plain text, in the receipt's language.
pub fn render_text(receipt: &Receipt) -> String {
    let v = View::of(receipt);
    let l = v.labels;
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "{} {}", v.title, v.number);
    let _ = writeln!(out);
    for line in &v.operator {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n{}", l.session);
    for (label, value) in &v.session {
        let _ = writeln!(out, "  {label}: {value}");
    }
    if !v.unit_prices.is_empty() {
        let _ = writeln!(out, "\n{}", l.unit_prices);
        for p in &v.unit_prices {
            let _ = writeln!(
                out,
                "  {}: {} {} / {} {} ({})",
                p.what, p.excl_vat, l.excl_vat, p.incl_vat, l.incl_vat, p.vat
            );
        }
    }
    let _ = writeln!(out, "\n{}", l.charges);
    for row in &v.charges {
        let quantity = if row.quantity.is_empty() {
            String::new()
        } else {
            format!(" [{}]", row.quantity)
        };
        let _ = writeln!(
            out,
            "  {}{quantity}: {} {} / {} {}",
            row.item, row.excl_vat, l.excl_vat, row.incl_vat, l.incl_vat
        );
    }
    if !v.vat.is_empty() {
        let _ = writeln!(out, "\n{}", l.vat);
        for (rate, base, vat) in &v.vat {
            let _ = writeln!(out, "  {rate}: {} {base} → {vat}", l.vat_base);
        }
    }
    let _ = writeln!(out);
    for (label, value) in &v.totals {
        let _ = writeln!(out, "{label}: {value}");
    }
    let _ = writeln!(out, "\n{}: {}", l.payment, v.payment);
    if !v.signed.is_empty() {
        let _ = writeln!(out, "\n{}\n{}", l.signed_data, l.signed_data_note);
        for block in &v.signed {
            let _ = writeln!(out, "\n{}\n{}", block.caption, block.data);
        }
    }
    let _ = writeln!(out);
    for (label, value) in &v.footer {
        let _ = writeln!(out, "{label}: {value}");
    }
    if let Some(notice) = &v.complaint_notice {
        let _ = writeln!(out, "\n{notice}");
    }
    out
}
