// The ranked ballot: options ordered by drag and drop (pointer, touch or keyboard, through
// @dnd-kit) or by the move-up/move-down buttons, with a line that separates ranked options
// (above) from unranked ones (below). It only sets hidden inputs "rank-<id>" = 1, 2, ... (""
// for unranked) in the surrounding form: the server reads them with ballot_from_form, which
// stays the only place that decides what a valid ranking is.
// Wrapped by commons_app/components/ranking.py; every text comes from there, translated.
import { useEffect, useMemo, useRef, useState } from "react";
import {
  DndContext,
  KeyboardSensor,
  PointerSensor,
  closestCenter,
  useSensor,
  useSensors,
} from "@dnd-kit/core";
import {
  SortableContext,
  arrayMove,
  sortableKeyboardCoordinates,
  useSortable,
  verticalListSortingStrategy,
} from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { ChevronDown, ChevronUp, GripVertical } from "lucide-react";
import "./ranking.css";

const LINE = "unranked-line";
const MENUS_KEY = "commons-rank-menus";

// gettext-style "%(name)s" placeholders, filled the way commons_app/i18n.py fills them.
const fill = (text, params) =>
  Object.entries(params).reduce((s, [k, v]) => s.split(`%(${k})s`).join(String(v)), text || "");

// The initial order: the stored ranking first, then every other option below the line.
function initialOrder(options, ranks) {
  const ranked = options
    .filter((o) => ranks[String(o.id)])
    .sort((a, b) => Number(ranks[String(a.id)]) - Number(ranks[String(b.id)]));
  const rest = options.filter((o) => !ranks[String(o.id)]);
  return [...ranked.map((o) => String(o.id)), LINE, ...rest.map((o) => String(o.id))];
}

// What a move means to the voter: "rank 2 of 3" or "not ranked".
function place(order, id, texts) {
  const line = order.indexOf(LINE);
  const at = order.indexOf(id);
  return at < line
    ? fill(texts.rankOf, { rank: at + 1, count: line })
    : texts.notRanked;
}

function SortableOption({ id, name, order, texts, onMove, status }) {
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition, isDragging } =
    useSortable({ id, attributes: { roleDescription: texts.roleDescription } });
  const at = order.indexOf(id);
  const line = order.indexOf(LINE);
  const ranked = at < line;
  const style = { transform: CSS.Transform.toString(transform), transition };
  const press = (delta) => (event) => {
    event.preventDefault();
    const to = at + delta;
    if (to < 0 || to >= order.length) return;
    onMove(at, to);
  };
  return (
    <li
      ref={setNodeRef}
      style={style}
      className={`commons-rank-item${isDragging ? " is-dragging" : ""}${ranked ? "" : " is-unranked"}`}
      data-option-id={id}
      data-rank={ranked ? at + 1 : ""}
    >
      <span className="commons-rank-number" aria-hidden="true">
        {ranked ? `${at + 1}.` : "–"}
      </span>
      <button
        type="button"
        ref={setActivatorNodeRef}
        className="commons-rank-handle"
        {...attributes}
        aria-label={fill(texts.handle, { option: name, place: status })}
        {...listeners}
      >
        <GripVertical aria-hidden="true" size={18} />
        <span>{name}</span>
      </button>
      <button
        type="button"
        className="commons-rank-move"
        aria-label={fill(texts.moveUp, { option: name })}
        aria-disabled={at === 0 ? "true" : undefined}
        onClick={press(-1)}
      >
        <ChevronUp aria-hidden="true" size={20} />
      </button>
      <button
        type="button"
        className="commons-rank-move"
        aria-label={fill(texts.moveDown, { option: name })}
        aria-disabled={at === order.length - 1 ? "true" : undefined}
        onClick={press(1)}
      >
        <ChevronDown aria-hidden="true" size={20} />
      </button>
    </li>
  );
}

function Line({ texts }) {
  // A fixed row: options pass it, but it cannot be picked up itself.
  const { setNodeRef, transform, transition } = useSortable({
    id: LINE,
    disabled: { draggable: true, droppable: false },
  });
  return (
    <li
      ref={setNodeRef}
      style={{ transform: CSS.Transform.toString(transform), transition }}
      className="commons-rank-line"
      id="unranked-line"
    >
      {texts.line}
    </li>
  );
}

export function RankingList({ options, ranks, texts, children }) {
  const [order, setOrder] = useState(() => initialOrder(options || [], ranks || {}));
  // New options or a new stored ballot from the server start the list again.
  const source = JSON.stringify([options, ranks]);
  const [shown, setShown] = useState(source);
  if (shown !== source) {
    setShown(source);
    setOrder(initialOrder(options || [], ranks || {}));
  }
  // The voter's choice of menus is kept in this browser: the form is drawn again after a vote.
  const [menus, setMenusState] = useState(() => {
    try {
      return window.localStorage.getItem(MENUS_KEY) === "1";
    } catch {
      return false;
    }
  });
  // Switching keeps the voter's unsaved order: the list's ranks go into the menus, and back.
  const box = useRef(null);
  const pending = useRef(null);
  const setMenus = (value) => {
    const selects = box.current ? [...box.current.querySelectorAll('select[name^="rank-"]')] : [];
    if (value) {
      const line = order.indexOf(LINE);
      pending.current = Object.fromEntries(order.map((id, at) => [id, at < line ? String(at + 1) : ""]));
    } else {
      setOrder(initialOrder(options || [], Object.fromEntries(selects.map((el) => [el.name.slice(5), el.value]))));
    }
    setMenusState(value);
    try {
      window.localStorage.setItem(MENUS_KEY, value ? "1" : "0");
    } catch {
      // storage refused (private mode): the choice lasts until the page is drawn again
    }
  };
  const [said, setSaid] = useState("");
  const names = useMemo(
    () => Object.fromEntries((options || []).map((o) => [String(o.id), o.text])),
    [options],
  );
  useEffect(() => {
    if (!menus || !pending.current || !box.current) return;
    for (const [id, rank] of Object.entries(pending.current)) {
      const select = box.current.querySelector(`select[name="rank-${id}"]`);
      if (select) select.value = rank;
    }
    pending.current = null;
  }, [menus]);
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 4 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );
  const after = (from, to) => arrayMove(order, from, to);
  const moved = (next, id) =>
    fill(texts.moved, { option: names[id], place: place(next, id, texts) });

  // dnd-kit reports the option over itself right after the pick-up: say nothing until it moves.
  const lastOver = useRef(null);
  const announcements = {
    onDragStart: ({ active }) => {
      lastOver.current = active.id;
      return fill(texts.pickedUp, { option: names[active.id], place: place(order, active.id, texts) });
    },
    onDragOver: ({ active, over }) => {
      if (!over || over.id === lastOver.current) return undefined;
      lastOver.current = over.id;
      return moved(after(order.indexOf(active.id), order.indexOf(over.id)), active.id);
    },
    onDragEnd: ({ active, over }) =>
      over
        ? fill(texts.dropped, {
            option: names[active.id],
            place: place(after(order.indexOf(active.id), order.indexOf(over.id)), active.id, texts),
          })
        : undefined,
    onDragCancel: ({ active }) =>
      fill(texts.cancelled, { option: names[active.id], place: place(order, active.id, texts) }),
  };

  const onDragEnd = ({ active, over }) => {
    if (over && active.id !== over.id) {
      setOrder(after(order.indexOf(active.id), order.indexOf(over.id)));
    }
  };
  const onMove = (from, to) => {
    const next = after(from, to);
    setOrder(next);
    // Moving across the line moves the line: announce where the option itself now is.
    setSaid(moved(next, order[from] === LINE ? order[to] : order[from]));
  };
  const line = order.indexOf(LINE);

  const toggle = (
    <button type="button" className="commons-rank-toggle" onClick={() => setMenus(!menus)}>
      {menus ? texts.useDrag : texts.useMenus}
    </button>
  );
  if (menus) {
    return (
      <div className="commons-ranking" ref={box}>
        {toggle}
        {children}
      </div>
    );
  }
  return (
    <div className="commons-ranking" ref={box}>
      {toggle}
      <p className="commons-rank-help" id="ranking-help">{texts.help}</p>
      <DndContext
        sensors={sensors}
        collisionDetection={closestCenter}
        onDragEnd={onDragEnd}
        accessibility={{ announcements, screenReaderInstructions: { draggable: texts.instructions } }}
      >
        <SortableContext items={order} strategy={verticalListSortingStrategy}>
          <ol className="commons-rank-list" aria-describedby="ranking-help">
            {order.map((id) =>
              id === LINE ? (
                <Line key={id} texts={texts} />
              ) : (
                <SortableOption
                  key={id}
                  id={id}
                  name={names[id]}
                  order={order}
                  texts={texts}
                  onMove={onMove}
                  status={place(order, id, texts)}
                />
              ),
            )}
          </ol>
        </SortableContext>
      </DndContext>
      <p className="commons-visually-hidden" role="status" id="ranking-status">{said}</p>
      {order.map((id, at) =>
        id === LINE ? null : (
          <input key={id} type="hidden" name={`rank-${id}`} value={at < line ? String(at + 1) : ""} readOnly />
        ),
      )}
    </div>
  );
}
