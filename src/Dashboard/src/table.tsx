// The dashboard's data tables: one caption, a header row of column names, one row per item, and what to say when there
// are no items. Every page's table is made here, so they all have the same markup (and the same accessible names).
import { Fragment, type ComponentChildren } from "preact";
import { Empty } from "./components";

export interface Column<T> {
  /** The column's name, in its `<th scope="col">`. */
  header: string;
  /** The header is for screen readers only (a column of buttons, say). */
  hideHeader?: boolean;
  /** What the row shows in this column; index counts from 0. */
  cell: (row: T, index: number) => ComponentChildren;
  /** Right-aligned figures: class "num" on the header and the cells. */
  numeric?: boolean;
  /** The cell names its row: `<th scope="row">` instead of `<td>`. */
  rowHeader?: boolean;
  /** Extra classes on the column's cells (not its header). */
  className?: string;
}

export interface DataTableProps<T> {
  caption: string;
  /** Classes on the caption ("visually-hidden" where a figure's caption already names the table). */
  captionClass?: string;
  rows: readonly T[];
  rowKey: (row: T) => string | number;
  /** Columns left out for this person (falsy entries) are skipped, so a column can be `manage && { … }`. */
  columns: readonly (Column<T> | false | null | undefined)[];
  /** Shown under the table when there are no rows. */
  empty?: ComponentChildren;
  /** Classes on the `<table>`. */
  tableClass?: string;
  /** Classes on the wrapper besides "table-wrap". */
  wrapClass?: string;
  /** The rows are being read again. */
  busy?: boolean;
  rowClass?: (row: T) => string | undefined;
  /** More rows after a row (a message about it, say); columnCount is for their colSpan. */
  afterRow?: (row: T, columnCount: number) => ComponentChildren;
  /** Notes under the table, inside its wrapper. */
  children?: ComponentChildren;
}

const classes = (...names: (string | false | undefined)[]) => names.filter(Boolean).join(" ") || undefined;

export function DataTable<T>({ caption, captionClass, rows, rowKey, columns, empty, tableClass, wrapClass, busy, rowClass, afterRow, children }: DataTableProps<T>) {
  const shown = columns.filter((column): column is Column<T> => Boolean(column));
  return (
    <div class={classes("table-wrap", wrapClass)} aria-busy={busy}>
      <table class={tableClass}>
        <caption class={captionClass}>{caption}</caption>
        <thead>
          <tr>
            {shown.map((column) => (
              <th key={column.header} scope="col" class={column.numeric ? "num" : undefined}>
                {column.hideHeader ? <span class="visually-hidden">{column.header}</span> : column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <Fragment key={rowKey(row)}>
              <tr class={rowClass?.(row)}>
                {shown.map((column) => {
                  const className = classes(column.numeric && "num", column.className);
                  return column.rowHeader ? (
                    <th key={column.header} scope="row" class={className}>
                      {column.cell(row, index)}
                    </th>
                  ) : (
                    <td key={column.header} class={className}>
                      {column.cell(row, index)}
                    </td>
                  );
                })}
              </tr>
              {afterRow?.(row, shown.length)}
            </Fragment>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && empty ? <Empty>{empty}</Empty> : null}
      {children}
    </div>
  );
}
