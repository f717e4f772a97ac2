//! What an entry carries: a body shared with the reply it records (`Bytes`), and the clip
//! that keeps any text to [`JOURNAL_BODY_MAX`] bytes.

use super::JOURNAL_BODY_MAX;
use bytes::Bytes;
use serde::{Serialize, Serializer};
use std::borrow::Cow;

/// A body the journal holds: bytes shared with the request or reply they came from (held,
/// not copied, when they are at most [`JOURNAL_BODY_MAX`]), shown as text (lossy UTF-8:
/// every protocol sandbank speaks is text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body(Bytes);

impl Body {
    /// The body as text.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Cut to at most [`JOURNAL_BODY_MAX`] bytes on a character boundary, with a note of
    /// the whole length; a short body is kept as it is (shared, no copy).
    pub(super) fn clipped(self) -> Body {
        if self.0.len() <= JOURNAL_BODY_MAX {
            return self;
        }
        Body(Bytes::from(clip(&self.text()).into_bytes()))
    }
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body(b)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body(Bytes::from(s.into_bytes()))
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Body {
        Body(Bytes::copy_from_slice(s.as_bytes()))
    }
}

/// Cut `text` to at most [`JOURNAL_BODY_MAX`] bytes on a character boundary.
pub fn clip(text: &str) -> String {
    if text.len() <= JOURNAL_BODY_MAX {
        return text.to_string();
    }
    let mut end = JOURNAL_BODY_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes in all)", &text[..end], text.len())
}

/// [`clip`] for a string already owned: no copy when it is short enough.
pub(super) fn clip_owned(text: String) -> String {
    if text.len() <= JOURNAL_BODY_MAX {
        text
    } else {
        clip(&text)
    }
}

/// [`clip`] for a name that may be static: no copy when it is short enough.
pub(super) fn clip_cow(text: Cow<'static, str>) -> Cow<'static, str> {
    if text.len() <= JOURNAL_BODY_MAX {
        text
    } else {
        Cow::Owned(clip(&text))
    }
}
