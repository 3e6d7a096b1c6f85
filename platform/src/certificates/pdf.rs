//! The certificate as a one-page PDF (A4 landscape) in the tenant's colours: the learner's
//! name, the course, the provider, the dates, the hours and credits, the signatory, the
//! certificate id and a QR code of the public verification URL. Rendered with `krilla`, which
//! embeds only the glyphs used from the shipped DejaVu fonts, so a certificate weighs a few tens
//! of kilobytes, far below certification bodies' upload limits.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use qrcode::{Color, QrCode};

use super::model::{Certificate, Design};

static REGULAR: LazyLock<Option<Font>> = LazyLock::new(|| {
    Font::new(
        (include_bytes!("fonts/DejaVuSans.ttf") as &'static [u8]).into(),
        0,
    )
});
static BOLD: LazyLock<Option<Font>> = LazyLock::new(|| {
    Font::new(
        (include_bytes!("fonts/DejaVuSans-Bold.ttf") as &'static [u8]).into(),
        0,
    )
});

const WIDTH: f32 = 842.0;
const HEIGHT: f32 = 595.0;
const LEFT: f32 = 72.0;

/// Who issues the certificate, and in which colours.
pub struct Provider<'a> {
    pub name: &'a str,
    /// `#rrggbb`, else a dark blue.
    pub primary_color: Option<&'a str>,
    pub verification_url: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the certificate fonts do not load")]
    Fonts,
    #[error("the verification URL does not fit a QR code: {0}")]
    Qr(String),
    #[error("rendering the PDF: {0:?}")]
    Render(String),
}

fn colour(hex: Option<&str>) -> rgb::Color {
    let parsed = hex
        .and_then(|h| h.strip_prefix('#'))
        .filter(|h| h.len() == 6)
        .and_then(|h| u32::from_str_radix(h, 16).ok());
    match parsed {
        Some(v) => rgb::Color::new((v >> 16) as u8, (v >> 8) as u8, v as u8),
        None => rgb::Color::new(0x1f, 0x3a, 0x5f),
    }
}

fn fill(color: rgb::Color) -> Fill {
    Fill {
        paint: color.into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y").to_string()
}

/// At most `max` characters, with an ellipsis when cut (one line each; fields are bounded).
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn hours_and_credits(certificate: &Certificate) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(hours) = certificate.credit_hours {
        parts.push(format!("{hours} hours"));
    }
    for credit in certificate.credits.iter() {
        parts.push(format!("{} {} credits", credit.body, credit.credits));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// Renders the certificate's PDF.
pub fn render(certificate: &Certificate, provider: &Provider<'_>) -> Result<Vec<u8>, PdfError> {
    let (Some(regular), Some(bold)) = (REGULAR.clone(), BOLD.clone()) else {
        return Err(PdfError::Fonts);
    };
    let qr = QrCode::new(provider.verification_url.as_bytes())
        .map_err(|e| PdfError::Qr(e.to_string()))?;
    let primary = colour(provider.primary_color);
    let ink = rgb::Color::new(0x22, 0x22, 0x22);
    let grey = rgb::Color::new(0x66, 0x66, 0x66);

    let mut document = Document::new();
    let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or(PdfError::Render("page".into()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();

    // The frame (classic) or a band down the left edge (modern).
    match certificate.design {
        Design::Classic => {
            let mut frame = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(24.0, 24.0, WIDTH - 48.0, HEIGHT - 48.0) {
                frame.push_rect(rect);
            }
            if let Some(path) = frame.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: primary.into(),
                    width: 4.0,
                    ..Default::default()
                }));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
        Design::Modern => {
            let mut band = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(0.0, 0.0, 28.0, HEIGHT) {
                band.push_rect(rect);
            }
            if let Some(path) = band.finish() {
                surface.set_fill(Some(fill(primary)));
                surface.draw_path(&path);
            }
        }
    }

    let mut text = |font: &Font, size: f32, color: rgb::Color, y: f32, line: &str| {
        surface.set_fill(Some(fill(color)));
        surface.draw_text(
            Point::from_xy(LEFT, y),
            font.clone(),
            size,
            line,
            false,
            TextDirection::Auto,
        );
    };
    text(&bold, 16.0, primary, 90.0, &fit(provider.name, 70));
    text(&bold, 30.0, ink, 145.0, &fit(&certificate.title, 40));
    text(&regular, 14.0, grey, 190.0, "This certifies that");
    text(
        &bold,
        26.0,
        ink,
        228.0,
        &fit(&certificate.recipient_name, 44),
    );
    text(&regular, 14.0, grey, 262.0, "has completed the course");
    text(&bold, 18.0, ink, 292.0, &fit(&certificate.course_title, 64));
    let mut y = 330.0;
    if let Some(line) = hours_and_credits(certificate) {
        text(&regular, 12.0, ink, y, &fit(&line, 90));
        y += 22.0;
    }
    let mut dates = format!("Issued {}", date(certificate.issued_at));
    if let Some(expires) = certificate.expires_at {
        dates.push_str(&format!(" · valid until {}", date(expires)));
    }
    text(&regular, 12.0, ink, y, &dates);
    if let Some(name) = &certificate.signatory_name {
        text(&bold, 13.0, ink, 470.0, &fit(name, 50));
        if let Some(title) = &certificate.signatory_title {
            text(&regular, 11.0, grey, 488.0, &fit(title, 60));
        }
    }
    text(
        &regular,
        8.0,
        grey,
        540.0,
        &format!(
            "Certificate {} · verify at {}",
            certificate.id, provider.verification_url
        ),
    );

    // The QR code of the verification URL, bottom right, 120 pt wide with a quiet zone.
    let modules = qr.width();
    let size = 120.0;
    let module = size / modules as f32;
    let (x0, y0) = (WIDTH - 72.0 - size, HEIGHT - 72.0 - size);
    let mut dark = PathBuilder::new();
    for y in 0..modules {
        for x in 0..modules {
            if qr[(x, y)] == Color::Dark
                && let Some(rect) = Rect::from_xywh(
                    x0 + x as f32 * module,
                    y0 + y as f32 * module,
                    module,
                    module,
                )
            {
                dark.push_rect(rect);
            }
        }
    }
    if let Some(path) = dark.finish() {
        surface.set_fill(Some(fill(rgb::Color::new(0, 0, 0))));
        surface.draw_path(&path);
    }

    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| PdfError::Render(format!("{e:?}")))
}
