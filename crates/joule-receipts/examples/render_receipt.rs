//! Writes the sample receipt in every language as HTML, PDF and text, plus a
//! QR code, into a directory, to look at them as a driver would:
//! `cargo run -p joule-receipts --example render_receipt -- /tmp/receipts`.

use joule_domain::receipts::receipt::{fixtures, Language};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    for language in Language::ALL {
        let receipt = fixtures::receipt(language);
        let name = format!("receipt-{}", language.code());
        std::fs::write(
            dir.join(format!("{name}.html")),
            joule_receipts::render_html(&receipt),
        )?;
        std::fs::write(
            dir.join(format!("{name}.pdf")),
            joule_receipts::render_pdf(&receipt)?,
        )?;
        std::fs::write(
            dir.join(format!("{name}.txt")),
            joule_receipts::render_text(&receipt),
        )?;
    }
    let url = "https://pay.joule.example/pay/CP-0001/2";
    std::fs::write(dir.join("pay-qr.png"), joule_receipts::qr_png(url)?)?;
    std::fs::write(dir.join("pay-qr.svg"), joule_receipts::qr_svg(url)?)?;
    println!("written to {}", dir.display());
    Ok(())
}
