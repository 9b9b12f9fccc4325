// Owns ${VAR} substitution in config values: the reference syntax, its error messages, the
// process environment lookup, and reading a substituted plain scalar as YAML would.

export type Lookup = (name: string) => string | undefined;

/**
 * Reads the process environment one name at a time: with `--allow-env=NAME,...` a full
 * Deno.env.toObject() would be denied while the names the config uses are readable.
 */
export function processEnv(name: string): string | undefined {
  return Deno.env.get(name);
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Substitutes ${VAR} / ${VAR:-default} ("default" when VAR is unset or empty, as in the shell)
 * and $${ (a literal "${") in `text`; each bad reference is passed to `report` and counts as "".
 * `secret`: the value belongs to a secret key, so a bad reference is not echoed.
 */
export function substituteEnv(
  text: string,
  secret: boolean,
  lookup: Lookup,
  report: (message: string) => void,
): { text: string; vars: string[]; failed: boolean } {
  const vars: string[] = [];
  let failed = false;
  const result = text.replace(
    /\$\$\{|\$\{([^}]*)(\})?/g,
    (match, body?: string, close?: string) => {
      if (match === "$${") return "${";
      const reference = /^([^:]*)(?::-([\s\S]*))?$/.exec(body ?? "");
      const name = reference?.[1] ?? "";
      if (close === undefined || !VAR_NAME.test(name)) {
        failed = true;
        const shown = secret ? "" : ` ${JSON.stringify(match)}`;
        report(
          close === undefined
            ? `unterminated environment variable reference${shown}: close it with "}" or write $\${ for a literal \${`
            : `invalid environment variable reference${shown}: write \${NAME} or \${NAME:-default}, ` +
              `NAME being letters, digits and _ not starting with a digit (or $\${ for a literal \${)`,
        );
        return "";
      }
      vars.push(name);
      let value: string | undefined;
      try {
        value = lookup(name);
      } catch (error) {
        failed = true;
        report(
          `cannot read environment variable ${name}: ${
            error instanceof Error ? error.message : error
          }`,
        );
        return "";
      }
      const fallback = reference?.[2];
      if (fallback !== undefined && (value === undefined || value === "")) return fallback;
      if (value === undefined) {
        failed = true;
        report(
          `environment variable ${name} is not set (use \${${name}:-default} to give a default)`,
        );
        return "";
      }
      return value;
    },
  );
  return { text: result, vars, failed };
}

/** Reads a substituted plain scalar as the YAML 1.2 core schema would. */
export function readPlainScalar(text: string): unknown {
  if (/^(?:~|null|Null|NULL)?$/.test(text)) return null;
  if (/^(?:true|True|TRUE)$/.test(text)) return true;
  if (/^(?:false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return Number.parseInt(text, 10);
  if (/^0o[0-7]+$/.test(text)) return Number.parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return Number.parseInt(text.slice(2), 16);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return NaN;
  return text;
}
