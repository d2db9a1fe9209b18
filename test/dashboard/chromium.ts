import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

// Debian's /usr/bin/chromium driven by playwright-core, headless, in a throw-away profile; no
// browser is ever downloaded. Without it the browser tests are skipped, loudly.

export const CHROMIUM = process.env.BALLAST_CHROMIUM ?? "/usr/bin/chromium";
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`\n!!! SKIPPING the dashboard browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or deploy/setup.sh --test) !!!\n`);

export interface Browser {
  ctx: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors, in order. */
  pageErrors: string[];
  close(): Promise<void>;
}

export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "ballast-chromium-"));
  let ctx: BrowserContext;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport,
      timeout: 30_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(15_000);
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
  return {
    ctx,
    page,
    pageErrors,
    async close() {
      await ctx.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A Chromium for the enclosing suite: launched before its tests, closed after them. The returned
 * function gives a test the browser (its page and the page errors so far).
 */
export function chromiumPerSuite(timeoutMs = 60_000): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  }, timeoutMs);
  afterAll(async () => {
    await browser?.close();
    browser = undefined;
  });
  return () => {
    if (!browser) throw new Error("no Chromium: used outside its suite's tests?");
    return browser;
  };
}

/** Where to save a screenshot named `name` next to BALLAST_DASHBOARD_SCREENSHOT (x.png -> x-name.png); undefined when unset. */
export function screenshotPath(name: string): string | undefined {
  const base = process.env.BALLAST_DASHBOARD_SCREENSHOT;
  if (!base) return undefined;
  return base.replace(/(\.png)?$/i, `-${name}.png`);
}
