//! The world the order and notification parts run: the default world's WeChat Pay channel
//! (its merchant from [`crate::sign`]) on a manual clock, so no timer fires by itself.

use crate::sign::{APPID, KEY, MCH_ID};
use std::path::{Path, PathBuf};

/// The scenario TOML of the world named `name`.
pub fn manual_clock(name: &str) -> String {
    format!(
        r#"
[world]
name = "{name}"
seed = 42
clock = "manual"
start = "2026-03-02 10:00"
timezone = "Asia/Shanghai"

[[channels]]
id = "wxpay"
kind = "wechatpay-v2"
fee_rate = "0.006"

[[channels.merchants]]
appid = "{APPID}"
mch_id = "{MCH_ID}"
key = "{KEY}"
"#
    )
}

/// [`manual_clock`] written to a file in the temporary directory, removed when dropped.
pub struct ScenarioFile {
    path: PathBuf,
}

impl ScenarioFile {
    /// Write the world `name` to `sandbank-{name}-{pid}.toml` in the temporary directory.
    pub fn write(name: &str) -> std::io::Result<ScenarioFile> {
        let path =
            std::env::temp_dir().join(format!("sandbank-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, manual_clock(name))?;
        Ok(ScenarioFile { path })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScenarioFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
