import { formatCost, formatTokens } from '../format/format';
import type { Meter } from '../live/job-model';

/** Tokens and cost; streamed tokens are counted roughly and labelled as an estimate. */
export function MeterText({ meter, prefix }: { meter: Meter; prefix?: string }) {
  const tokens = meter.exactTokens + meter.estimatedTokens;
  if (tokens === 0 && meter.costUsd === 0) return <>{prefix}no tokens yet</>;
  if (meter.estimatedTokens > 0) {
    return (
      <>
        {prefix}≈ {formatTokens(tokens)} tokens so far <em>(estimate)</em>
        {meter.costUsd > 0 && <> · {formatCost(meter.costUsd)} for finished steps</>}
      </>
    );
  }
  return (
    <>
      {prefix}
      {formatTokens(tokens)} tokens · {formatCost(meter.costUsd)}
    </>
  );
}
