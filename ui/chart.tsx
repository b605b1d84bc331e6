/**
 * A small line chart (uPlot, on a canvas) with the same points as a table for screen readers: the
 * canvas is hidden from them, the table from sight.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  /** Seconds since the epoch, one per point. */
  times: number[];
  values: number[];
  unit: string;
}

/**
 * `range`: the time axis's span, seconds since the epoch. Given, the axis shows that window however
 * few points there are (uPlot otherwise stretches one point's axis over years).
 */
export function LineChart({ series, title, range }: { series: Series; title: string; range: [number, number] }) {
  const span = useRef(range);
  span.current = range;
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const style = getComputedStyle(document.documentElement);
    const colour = style.getPropertyValue('--accent').trim() || '#0a58ca';
    const axis = { stroke: style.getPropertyValue('--muted').trim(), grid: { stroke: style.getPropertyValue('--line').trim() } };
    plot.current = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 160,
        legend: { show: false },
        cursor: { show: false },
        axes: [axis, axis],
        scales: { x: { time: true, range: () => span.current }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        series: [{}, { label: series.label, stroke: colour, width: 2 }],
      },
      [series.times, series.values],
      el,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData([series.times, series.values]);
  }, [series, range[0], range[1]]);
  const last = series.times.length - 1;
  return (
    <figure data-from={Math.round(range[0])} data-to={Math.round(range[1])}>
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
      <table class="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">time</th>
            <th scope="col">{`${series.label} (${series.unit})`}</th>
          </tr>
        </thead>
        <tbody>
          {series.times.slice(Math.max(0, last - 9)).map((t, i) => (
            <tr key={t}>
              <td>{new Date(t * 1000).toLocaleTimeString()}</td>
              <td>{series.values[Math.max(0, last - 9) + i]}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
