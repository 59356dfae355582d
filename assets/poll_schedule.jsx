// A poll's opening and closing times in the viewer's time zone and language, with a countdown
// to the next one; see commons_app/components/schedule.py (which passes the translated labels).
//
// The ticking countdown is not a live region (it would talk every second); a visually hidden
// status line says once that the poll opened or closed. At that instant `onCross` asks the
// server to read the poll again: the server, not this clock, decides whether it is open.
import { useEffect, useRef, useState } from "react";

const PHASES = { scheduled: 0, open: 1, closed: 2 };
// Further out than this, the exact time alone says more than a countdown.
const COUNTDOWN_LIMIT_MS = 24 * 60 * 60 * 1000;
const HIDDEN = {
  position: "absolute", width: "1px", height: "1px", padding: 0, margin: "-1px",
  overflow: "hidden", clip: "rect(0, 0, 0, 0)", whiteSpace: "nowrap", border: 0,
};

function fill(template, params) {
  return String(template ?? "").replace(/%\((\w+)\)s/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function parse(iso) {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

function phaseAt(now, opens, closes) {
  if (closes !== null && now >= closes) return 2;
  if (opens !== null && now < opens) return 0;
  return 1;
}

function formatWhen(ms, lang) {
  const options = {
    year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short",
  };
  try {
    return new Intl.DateTimeFormat(lang || undefined, options).format(new Date(ms));
  } catch (e) {
    return new Intl.DateTimeFormat(undefined, options).format(new Date(ms));
  }
}

function countdown(ms, labels) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours > 0) return fill(labels.hours_minutes, { hours, minutes });
  if (minutes > 0) return fill(labels.minutes_seconds, { minutes, seconds });
  return fill(labels.seconds, { seconds });
}

export function PollSchedule({ opensAt, closesAt, status, lang, labels = {}, compact, onCross, ...rest }) {
  const opens = parse(opensAt);
  const closes = parse(closesAt);
  const serverPhase = PHASES[status] ?? 1;
  // null until mounted: the first render must not depend on this browser's clock.
  const [now, setNow] = useState(null);
  const [announcement, setAnnouncement] = useState("");
  // The furthest phase this page has shown or asked the server about: each crossing fires once.
  const reached = useRef(serverPhase);
  const crossRef = useRef(onCross);
  crossRef.current = onCross;
  const labelsRef = useRef(labels);
  labelsRef.current = labels;

  useEffect(() => {
    reached.current = Math.max(reached.current, serverPhase);
  }, [serverPhase]);

  useEffect(() => {
    let timeout = null;
    const check = () => {
      const at = Date.now();
      setNow(at);
      const phase = phaseAt(at, opens, closes);
      if (phase > reached.current) {
        reached.current = phase;
        const l = labelsRef.current;
        setAnnouncement(phase === 2 ? l.now_closed : l.now_open);
        if (crossRef.current) crossRef.current();
      }
    };
    const arm = () => {
      // A timer for the next instant itself, so the page does not wait for the next tick.
      const at = Date.now();
      const next = [opens, closes].filter((ms) => ms !== null && ms > at).sort((a, b) => a - b)[0];
      if (next !== undefined && next - at < COUNTDOWN_LIMIT_MS) {
        timeout = setTimeout(() => { check(); arm(); }, next - at + 50);
      }
    };
    check();
    arm();
    const tick = setInterval(check, 1000);
    return () => { clearInterval(tick); if (timeout !== null) clearTimeout(timeout); };
  }, [opens, closes]);

  if (opens === null && closes === null) return null;
  const shown = now === null ? serverPhase : Math.max(serverPhase, phaseAt(now, opens, closes));
  const line = (ms, iso, template, inTemplate, testid) => {
    const left = now === null ? null : ms - now;
    const counting = inTemplate && left !== null && left > 0 && left < COUNTDOWN_LIMIT_MS;
    return (
      <span data-testid={testid} style={{ display: "block" }}>
        <time dateTime={iso}>{fill(template, { when: formatWhen(ms, lang) })}</time>
        {counting ? (
          <span data-testid="poll-countdown" style={{ color: "var(--gray-11)" }}>
            {" · "}
            {fill(inTemplate, { countdown: countdown(left, labels) })}
          </span>
        ) : null}
      </span>
    );
  };
  return (
    <div
      data-testid="poll-schedule"
      data-phase={["scheduled", "open", "closed"][shown]}
      style={{ fontSize: compact ? "var(--font-size-2)" : "var(--font-size-3)", lineHeight: 1.5 }}
      {...rest}
    >
      {opens !== null
        ? line(opens, opensAt, shown === 0 ? labels.opens : labels.opened, shown === 0 ? labels.opens_in : null, "poll-opens")
        : null}
      {closes !== null
        ? line(closes, closesAt, shown === 2 ? labels.closed : labels.closes, shown === 1 ? labels.closes_in : null, "poll-closes")
        : null}
      <span role="status" style={HIDDEN}>{announcement}</span>
    </div>
  );
}
