/**
 * Syncthing as a baseline: two instances with their own homes, one shared
 * folder (`bench`, send-receive, watcher on), inside the run's namespace,
 * which holds only loopback.
 *
 * Keys come from `syncthing generate`; config.xml is then written whole by
 * us before the first start, with everything that could reach outside this
 * machine switched off: global and local discovery, LAN address announcements,
 * relays, NAT traversal and STUN, usage reporting, crash reporting and
 * upgrades (also STNOUPGRADE in the environment and --no-upgrade). Each side
 * listens on 127.0.0.1 only and knows the other's address. After the
 * measurement the running configuration is read back over the REST API and
 * the run fails if any of those switches is on.
 *
 * Syncthing 1.19 forks a monitor process; a peer is the monitor's process
 * tree, and its peak RSS is its largest process (the worker).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DaemonTool, Pair, RunDirs } from './measure.js';
import { exited, hasCommand, runChecked, startProcess, stopProcess } from './system.js';

const folderId = 'bench';
const apiKey = 'ploppy-bench-syncthing-api-key';
const env = { STNOUPGRADE: '1', STNORESTART: '1', STNODEFAULTFOLDER: '1' };

export interface SyncthingOptions {
  /** fsWatcherDelayS of the folder (Syncthing's default is 10). */
  readonly watcherDelayS: number;
}

interface Side {
  readonly label: 'A' | 'B';
  readonly home: string;
  readonly dir: string;
  readonly port: number;
  readonly guiPort: number;
}

/** Options that keep Syncthing on this machine (and out of our way); each is asserted after the run. */
const privateOptions: Record<string, string> = {
  globalAnnounceEnabled: 'false',
  localAnnounceEnabled: 'false',
  announceLANAddresses: 'false',
  relaysEnabled: 'false',
  natEnabled: 'false',
  stunKeepaliveStartS: '0',
  urAccepted: '-1',
  urURL: '',
  crashReportingEnabled: 'false',
  crashReportingURL: '',
  autoUpgradeIntervalH: '0',
  releasesURL: '',
  startBrowser: 'false',
  restartOnWakeup: 'false',
};

const sides = (run: RunDirs): [Side, Side] => [
  { label: 'A', home: join(run.root, 'st-a'), dir: run.a, port: 22001, guiPort: 8385 },
  { label: 'B', home: join(run.root, 'st-b'), dir: run.b, port: 22002, guiPort: 8386 },
];

const deviceXml = (id: string, name: string, address: string): string => `
    <device id="${id}" name="${name}" compression="metadata" introducer="false" skipIntroductionRemovals="false" introducedBy="">
        <address>${address}</address>
        <paused>false</paused>
        <autoAcceptFolders>false</autoAcceptFolders>
    </device>`;

function configXml(me: Side, peer: Side, ids: Record<'A' | 'B', string>, o: SyncthingOptions): string {
  const options = {
    listenAddress: `tcp://127.0.0.1:${me.port}`,
    globalAnnounceServer: '',
    reconnectionIntervalS: '5',
    setLowPriority: 'false', // not niced below the other tools
    ...privateOptions,
  };
  const optionLines = Object.entries(options).map(([k, v]) => `        <${k}>${v}</${k}>`).join('\n');
  return `<configuration version="36">
    <folder id="${folderId}" label="${folderId}" path="${me.dir}" type="sendreceive" rescanIntervalS="60" fsWatcherEnabled="true" fsWatcherDelayS="${o.watcherDelayS}" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="${ids[me.label]}" introducedBy=""></device>
        <device id="${ids[peer.label]}" introducedBy=""></device>
        <disableFsync>false</disableFsync>
    </folder>${deviceXml(ids[me.label], me.label, 'dynamic')}${deviceXml(ids[peer.label], peer.label, `tcp://127.0.0.1:${peer.port}`)}
    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:${me.guiPort}</address>
        <apikey>${apiKey}</apikey>
    </gui>
    <options>
${optionLines}
    </options>
</configuration>
`;
}

/** A REST call, made from inside the namespace (the GUI listens on its loopback). */
function rest(run: RunDirs, side: Side, method: 'GET' | 'POST', path: string): string {
  return runChecked('curl', ['-sS', '-m', '10', '-X', method, '-H', `X-API-Key: ${apiKey}`, `http://127.0.0.1:${side.guiPort}${path}`], { prefix: run.ns.prefix });
}

/** Fail loudly if the running configuration lets Syncthing reach out. */
function checkPrivate(run: RunDirs, side: Side): void {
  const config = JSON.parse(rest(run, side, 'GET', '/rest/config')) as { options: Record<string, unknown> };
  const bad = Object.entries(privateOptions).filter(([k, v]) => String(config.options[k] ?? '') !== v);
  const listen = config.options.listenAddresses;
  if (bad.length > 0 || JSON.stringify(listen) !== JSON.stringify([`tcp://127.0.0.1:${side.port}`])) {
    throw new Error(`syncthing ${side.label} runs with ${JSON.stringify(bad)} listen ${JSON.stringify(listen)}: refusing its figures`);
  }
}

export function syncthingTool(o: SyncthingOptions): DaemonTool {
  return {
    name: 'syncthing',
    kind: 'daemon',
    unavailable: () => (hasCommand('syncthing') && hasCommand('curl') ? null : 'syncthing (and curl) not installed'),

    async prepare(run) {
      const [a, b] = sides(run);
      const ids = { A: '', B: '' };
      for (const side of [a, b]) {
        const out = runChecked('syncthing', ['generate', '--home', side.home, '--no-default-folder', '--skip-port-probing'], { prefix: run.ns.prefix, env });
        const id = /Device ID: ([A-Z0-9-]+)/.exec(out)?.[1] ?? /<device id="([A-Z0-9-]+)"/.exec(readFileSync(join(side.home, 'config.xml'), 'utf8'))?.[1];
        if (id === undefined) throw new Error(`no device id from syncthing generate for ${side.label}`);
        ids[side.label] = id;
        mkdirSync(join(side.dir, '.stfolder'), { recursive: true });
      }
      writeFileSync(join(a.home, 'config.xml'), configXml(a, b, ids, o));
      writeFileSync(join(b.home, 'config.xml'), configXml(b, a, ids, o));
    },

    async start(run) {
      const [a, b] = sides(run);
      const launch = (side: Side): ChildProcess =>
        startProcess('syncthing', ['serve', '--home', side.home, '--no-browser', '--no-restart', '--no-upgrade'], {
          prefix: run.ns.prefix, env, logFile: join(run.root, `syncthing-${side.label}.log`),
        });
      const children = [launch(a), launch(b)] as const;
      const logText = (side: Side): string => readFileSync(join(run.root, `syncthing-${side.label}.log`), 'utf8');
      const pair: Pair = {
        roots: [children[0].pid as number, children[1].pid as number],
        alive() {
          for (const [i, child] of children.entries()) {
            const side = i === 0 ? a : b;
            if (exited(child)) return `syncthing ${side.label} exited (${child.exitCode ?? child.signalCode}):\n${logText(side).slice(-2000)}`;
          }
          return null;
        },
        async rescan() {
          rest(run, a, 'POST', `/rest/db/scan?folder=${folderId}`);
        },
        async notes() {
          checkPrivate(run, a);
          checkPrivate(run, b);
          // 1.19 handles new connections one at a time: when both dial at once, each can wait 20 s for the other's Hello.
          const race = [a, b].some((s) => logText(s).includes('Failed to exchange Hello'));
          return race ? ['helloTimeout: the two instances hit their connection race (about 20 s lost)'] : [];
        },
        async stop() {
          await Promise.all(children.map((c) => stopProcess(c)));
        },
      };
      return pair;
    },
  };
}
