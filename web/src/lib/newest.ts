/**
 * Overlapping loads of one view, of which only the newest may show: when the owner changes a filter (or
 * deletes again) while the answer to the previous load is still on its way, that answer is dropped when it
 * lands, instead of replacing the newer one it arrived after. The promise returned settles once the load
 * is shown or dropped.
 */
export function newestOnly(): <T>(work: Promise<T>, show: (value: T) => void, fail: (failure: unknown) => void) => Promise<void> {
  let newest = 0;
  return (work, show, fail) => {
    const ticket = ++newest;
    return work.then(
      (value) => {
        if (ticket === newest) show(value);
      },
      (failure: unknown) => {
        if (ticket === newest) fail(failure);
      },
    );
  };
}
