// Owns a strict reader of the Prometheus text exposition format (0.0.4) for tests: samples by name and labels.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromScrape {
  samples: PromSample[];
  /** `# TYPE` of each family. */
  types: Map<string, string>;
  /**
   * The value of the one sample with exactly these labels (undefined when absent); throws when the
   * labels given are a subset matching several samples.
   */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum of every sample of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

/** Parses a scrape; throws on any line that is not a valid comment or sample (with its number). */
export function parsePrometheusText(text: string): PromScrape {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  text.split("\n").forEach((line, index) => {
    if (line === "") return;
    if (line.startsWith("# HELP ")) return;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      if (!name || !["counter", "gauge", "histogram", "summary", "untyped"].includes(type ?? "")) {
        throw new Error(`line ${index + 1}: bad TYPE line ${JSON.stringify(line)}`);
      }
      types.set(name, type!);
      return;
    }
    if (line.startsWith("#")) return;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`line ${index + 1}: not a sample: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = match[3] ?? "";
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const start = LABEL.lastIndex;
      const label = LABEL.exec(body);
      if (!label || label.index !== start) {
        throw new Error(`line ${index + 1}: bad labels ${JSON.stringify(body)}`);
      }
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const raw = match[4]!;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    // Prometheus reads NaN in any case (Go's ParseFloat); prom-client writes "Nan".
    if (Number.isNaN(value) && raw.toLowerCase() !== "nan") {
      throw new Error(`line ${index + 1}: bad value ${JSON.stringify(raw)}`);
    }
    samples.push({ name: match[1]!, labels, value });
  });
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter((sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
    );
  return {
    samples,
    types,
    value(name, labels = {}) {
      const exact = matching(name, labels).filter((sample) =>
        Object.keys(sample.labels).length === Object.keys(labels).length
      );
      if (exact.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches several`);
      return exact[0]?.value;
    },
    sum(name, labels = {}) {
      return matching(name, labels).reduce((total, sample) => total + sample.value, 0);
    },
  };
}
