//! The wrk scripts of `bench courses`. Each wrk thread takes the learners whose index is its
//! own modulo the thread count (as many learners as connections in all) and sends every
//! request as the next of its learners in turn, so each connection's requests carry a token of
//! its own thread's learners and all learners are in use. Data (tokens, course keys, items)
//! is read from files at start, one value per line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// What one scenario requests.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `GET /api/v1/catalog?limit=20`.
    CatalogList,
    /// `GET /api/v1/catalog/{id or slug}`, a random course each time (ids and slugs alike).
    CourseDetail,
    /// `GET /api/v1/me/enrollments`.
    MyLearning,
    /// `PUT /api/v1/courses/{course}/items/{item}/progress` on a random item of one of the
    /// learner's enrolled courses, with a fresh session each time.
    Progress,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::CatalogList,
        Scenario::CourseDetail,
        Scenario::MyLearning,
        Scenario::Progress,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::CatalogList => "catalog list",
            Scenario::CourseDetail => "course detail",
            Scenario::MyLearning => "my learning",
            Scenario::Progress => "progress update",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Scenario::CatalogList => "catalog.lua",
            Scenario::CourseDetail => "detail.lua",
            Scenario::MyLearning => "mine.lua",
            Scenario::Progress => "progress.lua",
        }
    }

    /// A URL path for wrk's command line (each script sets its own per request).
    pub fn path(self) -> &'static str {
        match self {
            Scenario::CatalogList => "/api/v1/catalog?limit=20",
            Scenario::CourseDetail => "/api/v1/catalog",
            Scenario::MyLearning => "/api/v1/me/enrollments",
            Scenario::Progress => "/api/v1/courses",
        }
    }
}

/// One item of an enrolled course of a signed-in learner (by index into the tokens).
pub struct LearnerItem {
    pub learner: usize,
    pub course: String,
    pub item: String,
    pub video: bool,
}

pub struct Data<'a> {
    pub tenant_slug: &'a str,
    pub tokens: &'a [String],
    pub course_keys: &'a [String],
    pub items: &'a [LearnerItem],
}

/// Writes the data files and the four scripts into `dir`; returns each script's path.
pub fn write(dir: &Path, data: &Data<'_>) -> Result<Vec<(Scenario, PathBuf)>> {
    let lines = |values: &mut dyn Iterator<Item = String>| {
        values.fold(String::new(), |mut text, v| {
            text.push_str(&v);
            text.push('\n');
            text
        })
    };
    std::fs::write(
        dir.join("tokens.txt"),
        lines(&mut data.tokens.iter().cloned()),
    )?;
    std::fs::write(
        dir.join("courses.txt"),
        lines(&mut data.course_keys.iter().cloned()),
    )?;
    let mut items = String::new();
    for i in data.items {
        // 1-based learner index, as Lua counts.
        writeln!(
            items,
            "{} {} {} {}",
            i.learner + 1,
            i.course,
            i.item,
            if i.video { "v" } else { "o" }
        )?;
    }
    std::fs::write(dir.join("items.txt"), items)?;

    let mut scripts = Vec::new();
    for scenario in Scenario::ALL {
        let path = dir.join(scenario.file());
        let request = match scenario {
            Scenario::CatalogList => CATALOG,
            Scenario::CourseDetail => DETAIL,
            Scenario::MyLearning => MINE,
            Scenario::Progress => PROGRESS,
        };
        let text = COMMON
            .replace("@DIR@", &lua_string(&dir.to_string_lossy()))
            .replace("@SLUG@", &lua_string(data.tenant_slug))
            + request;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        scripts.push((scenario, path));
    }
    Ok(scripts)
}

fn lua_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Thread setup, data loading, response accounting and the final report (`name=value` lines).
/// `ok` counts 200 answers; `seconds` sums the `time_spent_seconds` those 200s acknowledged.
const COMMON: &str = r#"
local dir = @DIR@
local slug = @SLUG@
local threads = {}
local created = 0

function setup(thread)
  created = created + 1
  thread:set("tid", created)
  table.insert(threads, thread)
end

local function read_lines(name)
  local out = {}
  for line in io.lines(dir .. "/" .. name) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function init(args)
  local nthreads = tonumber(args[1])
  local all = read_lines("tokens.txt")
  mine = {}
  local index = {}
  for i = tid, #all, nthreads do
    mine[#mine + 1] = { token = "Bearer " .. all[i], items = {} }
    index[i] = mine[#mine]
  end
  courses = read_lines("courses.txt")
  for _, line in ipairs(read_lines("items.txt")) do
    local l, course, item, kind = line:match("^(%d+) (%S+) (%S+) (%a)$")
    local learner = index[tonumber(l)]
    if learner then
      table.insert(learner.items, { course = course, item = item, video = kind == "v" })
    end
  end
  turn = 0
  ok, failed, sample, seconds = 0, 0, "", 0
  -- The time each progress report claims: a constant per thread, so the acknowledged total
  -- is exact without matching answers to requests.
  spent = 10 + tid
  math.randomseed(os.time() * 1000 + tid * 7919)
end

local function next_learner()
  turn = turn % #mine + 1
  return mine[turn]
end

local function headers(learner)
  return { ["Authorization"] = learner.token, ["X-Tenant"] = slug, ["Host"] = "127.0.0.1" }
end

function response(status, hdrs, body)
  if status == 200 then
    ok = ok + 1
    seconds = seconds + spent
  else
    failed = failed + 1
    if sample == "" then sample = status .. " " .. string.sub(body or "", 1, 300) end
  end
end

function done(summary, latency, requests)
  local total_ok, total_failed, total_seconds = 0, 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_failed = total_failed + t:get("failed")
    total_seconds = total_seconds + t:get("seconds")
    local s = t:get("sample")
    if s ~= "" then io.write("sample=" .. s:gsub("\n", " ") .. "\n") end
  end
  io.write(string.format("ok=%d\nfailed=%d\nacknowledged_seconds=%d\n", total_ok, total_failed, total_seconds))
  io.write(string.format("non2xx=%d\ntimeouts=%d\nsocket_errors=%d\n", summary.errors.status,
    summary.errors.timeout, summary.errors.connect + summary.errors.read + summary.errors.write))
end
"#;

const CATALOG: &str = r#"
function request()
  return wrk.format("GET", "/api/v1/catalog?limit=20", headers(next_learner()))
end
"#;

const DETAIL: &str = r#"
function request()
  local key = courses[math.random(#courses)]
  return wrk.format("GET", "/api/v1/catalog/" .. key, headers(next_learner()))
end
"#;

const MINE: &str = r#"
function request()
  return wrk.format("GET", "/api/v1/me/enrollments", headers(next_learner()))
end
"#;

const PROGRESS: &str = r#"
local function uuid()
  local r = math.random
  return string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x", r(0, 0xffff), r(0, 0xffff),
    r(0, 0xffff), r(0, 0xfff), 0x8000 + r(0, 0x3fff), r(0, 0xffff), r(0, 0xffff), r(0, 0xffff))
end

function request()
  local learner = next_learner()
  local it = learner.items[math.random(#learner.items)]
  local complete = math.random() < 0.3 and "true" or "false"
  local body
  if it.video then
    body = string.format('{"session":"%s","time_spent_seconds":%d,"position_seconds":%d,"complete":%s}',
      uuid(), spent, spent, complete)
  else
    body = string.format('{"session":"%s","time_spent_seconds":%d,"complete":%s}', uuid(), spent, complete)
  end
  local h = headers(learner)
  h["Content-Type"] = "application/json"
  return wrk.format("PUT", "/api/v1/courses/" .. it.course .. "/items/" .. it.item .. "/progress", h, body)
end
"#;
