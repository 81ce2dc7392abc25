-- DEVELOPMENT/TEST ONLY — Attune owns its schema in production; the agent never runs this.
--
-- 0008: seed the `core` pack and the platform-catalog runtimes (spec 01 §3.8, spec 03 §7.1),
-- restated from upstream crates/common/src/platform_catalog/runtimes/*.yaml (@126b167).
-- Catalog runtimes are platform-owned rows (catalog_revision 1, pack NULL, pack_ref 'core'),
-- as after the API's catalog reconciliation; writing them needs the transaction-local
-- attune.catalog_write flag, exactly like upstream's reconciliation.

SET search_path TO attune, public;
SELECT set_config('attune.catalog_write', 'on', true);

INSERT INTO pack (ref, label, description, version, is_standard)
VALUES ('core', 'Core', 'Attune core pack (development seed)', '1.0.0', TRUE);

INSERT INTO runtime (ref, pack, pack_ref, description, name, aliases, distributions, installation, execution_config, catalog_revision)
VALUES
(
    'core.shell', NULL, 'core',
    'Shell (bash/sh) runtime for script execution - always available',
    'Shell', ARRAY['shell', 'bash', 'sh'],
    '{"verification": {"commands": [
        {"binary": "sh", "args": ["--version"], "exit_code": 0, "optional": true, "priority": 1},
        {"binary": "bash", "args": ["--version"], "exit_code": 0, "optional": true, "priority": 2}
      ], "always_available": true}}'::jsonb,
    '{"interpreters": ["sh", "bash", "dash"], "portable": true}'::jsonb,
    '{"interpreter": {"binary": "/bin/bash", "args": [], "file_extension": ".sh"},
      "inline_execution": {"strategy": "temp_file", "extension": ".sh", "inject_shell_helpers": true}}'::jsonb,
    1
),
(
    'core.python', NULL, 'core',
    'Python 3 runtime for actions and sensors with automatic environment management',
    'Python', ARRAY['python', 'python3'],
    '{"verification": {"commands": [
        {"binary": "python3", "args": ["--version"], "exit_code": 0, "pattern": "Python 3\\.", "priority": 1},
        {"binary": "python", "args": ["--version"], "exit_code": 0, "pattern": "Python 3\\.", "priority": 2}
      ]}, "min_version": "3.8", "recommended_version": "3.12"}'::jsonb,
    '{"package_managers": ["pip", "pipenv", "poetry"], "virtual_env_support": true}'::jsonb,
    '{"interpreter": {"binary": "python3", "args": ["-u"], "file_extension": ".py"},
      "environment": {"env_type": "virtualenv", "dir_name": ".venv",
                      "create_command": ["python3", "-m", "venv", "--copies", "{env_dir}"],
                      "interpreter_path": "{env_dir}/bin/python3"},
      "dependencies": {"manifest_file": "requirements.txt",
                       "install_command": ["{interpreter}", "-m", "pip", "install", "-r", "{manifest_path}"]},
      "env_vars": {"PYTHONPATH": {"operation": "prepend", "value": "{pack_dir}/lib", "separator": ":"}}}'::jsonb,
    1
),
(
    'core.nodejs', NULL, 'core',
    'Node.js runtime for JavaScript-based actions and sensors',
    'Node.js', ARRAY['node', 'nodejs', 'node.js'],
    '{"verification": {"commands": [
        {"binary": "node", "args": ["--version"], "exit_code": 0, "pattern": "v\\d+\\.\\d+\\.\\d+", "priority": 1}
      ]}, "min_version": "16.0.0", "recommended_version": "20.0.0"}'::jsonb,
    '{"package_managers": ["npm", "yarn", "pnpm"], "module_support": true}'::jsonb,
    '{"interpreter": {"binary": "node", "args": [], "file_extension": ".js"},
      "environment": {"env_type": "node_modules", "dir_name": "node_modules",
                      "create_command": ["sh", "-c", "mkdir -p {env_dir} && cp {manifest_path} {env_dir}/ 2>/dev/null || true"],
                      "interpreter_path": null},
      "dependencies": {"manifest_file": "package.json", "install_command": ["npm", "install", "--prefix", "{env_dir}"]},
      "env_vars": {"NODE_PATH": "{env_dir}/node_modules"}}'::jsonb,
    1
),
(
    'core.ruby', NULL, 'core',
    'Ruby runtime for script execution with automatic gem environment management',
    'Ruby', ARRAY['ruby', 'rb'],
    '{"verification": {"commands": [
        {"binary": "ruby", "args": ["--version"], "exit_code": 0, "pattern": "ruby \\d+\\.", "priority": 1}
      ]}, "min_version": "2.7", "recommended_version": "3.2"}'::jsonb,
    '{"package_managers": ["gem", "bundler"], "interpreters": ["ruby"], "portable": false}'::jsonb,
    '{"interpreter": {"binary": "ruby", "args": [], "file_extension": ".rb"},
      "environment": {"env_type": "gem_home", "dir_name": "gems",
                      "create_command": ["sh", "-c", "mkdir -p {env_dir}/gems"], "interpreter_path": null},
      "dependencies": {"manifest_file": "Gemfile",
                       "install_command": ["sh", "-c", "cd {pack_dir} && GEM_HOME={env_dir}/gems GEM_PATH={env_dir}/gems bundle install --quiet 2>/dev/null || true"]},
      "env_vars": {"GEM_HOME": "{env_dir}/gems", "GEM_PATH": "{env_dir}/gems", "BUNDLE_PATH": "{env_dir}/gems"}}'::jsonb,
    1
),
(
    'core.go', NULL, 'core',
    'Go runtime for compiling and running Go scripts and programs',
    'Go', ARRAY['go', 'golang'],
    '{"verification": {"commands": [
        {"binary": "go", "args": ["version"], "exit_code": 0, "pattern": "go\\d+\\.", "priority": 1}
      ]}, "min_version": "1.18", "recommended_version": "1.22"}'::jsonb,
    '{"package_managers": ["apt", "snap", "brew"], "module_support": true}'::jsonb,
    '{"interpreter": {"binary": "go", "args": ["run"], "file_extension": ".go"},
      "environment": {"env_type": "gopath", "dir_name": "gopath",
                      "create_command": ["sh", "-c", "mkdir -p {env_dir}"], "interpreter_path": null},
      "dependencies": {"manifest_file": "go.mod",
                       "install_command": ["sh", "-c", "cd {pack_dir} && GOPATH={env_dir} go mod download 2>/dev/null || true"]},
      "env_vars": {"GOPATH": "{env_dir}", "GOMODCACHE": "{env_dir}/pkg/mod"}}'::jsonb,
    1
),
(
    'core.java', NULL, 'core',
    'Java runtime for executing Java programs and scripts',
    'Java', ARRAY['java', 'jdk', 'openjdk'],
    '{"verification": {"commands": [
        {"binary": "java", "args": ["-version"], "exit_code": 0, "pattern": "version \"\\d+", "priority": 1}
      ]}, "min_version": "11", "recommended_version": "21"}'::jsonb,
    '{"interpreters": ["java", "javac"], "package_managers": ["maven", "gradle"]}'::jsonb,
    '{"interpreter": {"binary": "java", "args": [], "file_extension": ".java"}}'::jsonb,
    1
),
(
    'core.r', NULL, 'core',
    'R runtime for statistical computing and data analysis scripts',
    'R', ARRAY['r', 'rscript'],
    '{"verification": {"commands": [
        {"binary": "Rscript", "args": ["--version"], "exit_code": 0, "pattern": "\\d+\\.\\d+\\.\\d+", "priority": 1}
      ]}, "min_version": "4.0.0", "recommended_version": "4.4.0"}'::jsonb,
    '{"package_managers": ["install.packages", "renv"], "interpreters": ["Rscript", "R"]}'::jsonb,
    '{"interpreter": {"binary": "Rscript", "args": ["--vanilla"], "file_extension": ".R"},
      "environment": {"env_type": "renv", "dir_name": "renv",
                      "create_command": ["sh", "-c", "mkdir -p {env_dir}/library"], "interpreter_path": null},
      "dependencies": {"manifest_file": "renv.lock",
                       "install_command": ["sh", "-c", "cd {pack_dir} && R_LIBS_USER={env_dir}/library Rscript -e \"if (file.exists(''renv.lock'')) renv::restore(library=''{env_dir}/library'', prompt=FALSE)\" 2>/dev/null || true"]},
      "env_vars": {"R_LIBS_USER": "{env_dir}/library"}}'::jsonb,
    1
),
(
    'core.perl', NULL, 'core',
    'Perl runtime for script execution with optional CPAN dependency management',
    'Perl', ARRAY['perl', 'perl5'],
    '{"verification": {"commands": [
        {"binary": "perl", "args": ["--version"], "exit_code": 0, "pattern": "perl.*v\\d+\\.", "priority": 1}
      ]}, "min_version": "5.20", "recommended_version": "5.38"}'::jsonb,
    '{"package_managers": ["cpanm", "cpan"], "interpreters": ["perl"]}'::jsonb,
    '{"interpreter": {"binary": "perl", "args": [], "file_extension": ".pl"},
      "environment": {"env_type": "local_lib", "dir_name": "perl5",
                      "create_command": ["sh", "-c", "mkdir -p {env_dir}/lib/perl5"], "interpreter_path": null},
      "dependencies": {"manifest_file": "cpanfile",
                       "install_command": ["sh", "-c", "cd {pack_dir} && PERL5LIB={env_dir}/lib/perl5 PERL_LOCAL_LIB_ROOT={env_dir} cpanm --local-lib {env_dir} --installdeps --quiet . 2>/dev/null || true"]},
      "env_vars": {"PERL5LIB": "{env_dir}/lib/perl5", "PERL_LOCAL_LIB_ROOT": "{env_dir}"}}'::jsonb,
    1
),
(
    'core.native', NULL, 'core',
    'Native compiled runtime (Rust, Go, C, etc.) - executes binaries directly without an interpreter',
    'Native', ARRAY['native', 'builtin', 'standalone'],
    '{"verification": {"always_available": true, "check_required": false}, "languages": ["rust", "go", "c", "c++"]}'::jsonb,
    '{"build_required": false, "system_native": true}'::jsonb,
    '{}'::jsonb,
    1
);

-- Versioned entries (python 3.11/3.12/3.13, node 18/20/22). Components missing from the
-- version string stay NULL (preserve_runtime_version_precision).
INSERT INTO runtime_version (runtime, runtime_ref, version, version_major, version_minor, version_patch,
                             execution_config, distributions, is_default, meta)
SELECT r.id, r.ref, v.version, v.major, v.minor, NULL,
       jsonb_build_object(
           'interpreter', jsonb_build_object('binary', 'python' || v.version, 'args', jsonb_build_array('-u'), 'file_extension', '.py'),
           'environment', jsonb_build_object(
               'env_type', 'virtualenv',
               'dir_name', '.venv',
               'create_command', jsonb_build_array('python' || v.version, '-m', 'venv', '--copies', '{env_dir}'),
               'interpreter_path', '{env_dir}/bin/python' || v.version),
           'dependencies', r.execution_config->'dependencies',
           'env_vars', r.execution_config->'env_vars'),
       jsonb_build_object('verification', jsonb_build_object('commands', jsonb_build_array(
           jsonb_build_object('binary', 'python' || v.version, 'args', jsonb_build_array('--version'),
                              'exit_code', 0, 'pattern', 'Python ' || replace(v.version, '.', '\.') || '\.', 'priority', 1)))),
       v.is_default,
       '{}'::jsonb
FROM runtime r
CROSS JOIN (VALUES ('3.11', 3, 11, FALSE), ('3.12', 3, 12, TRUE), ('3.13', 3, 13, FALSE))
    AS v(version, major, minor, is_default)
WHERE r.ref = 'core.python';

INSERT INTO runtime_version (runtime, runtime_ref, version, version_major, version_minor, version_patch,
                             execution_config, distributions, is_default, meta)
SELECT r.id, r.ref, v.version, v.major, NULL, NULL,
       jsonb_build_object(
           'interpreter', jsonb_build_object('binary', 'node' || v.version, 'args', '[]'::jsonb, 'file_extension', '.js'),
           'environment', r.execution_config->'environment',
           'dependencies', r.execution_config->'dependencies',
           'env_vars', r.execution_config->'env_vars'),
       jsonb_build_object('verification', jsonb_build_object('commands', jsonb_build_array(
           jsonb_build_object('binary', 'node' || v.version, 'args', jsonb_build_array('--version'),
                              'exit_code', 0, 'pattern', 'v' || v.version || '\.', 'priority', 1),
           jsonb_build_object('binary', 'node', 'args', jsonb_build_array('--version'),
                              'exit_code', 0, 'pattern', 'v' || v.version || '\.', 'priority', 2)))),
       v.is_default,
       jsonb_build_object('lts_codename', v.codename, 'eol', v.eol)
FROM runtime r
CROSS JOIN (VALUES ('18', 18, FALSE, 'hydrogen', '2025-04-30'),
                   ('20', 20, TRUE, 'iron', '2026-04-30'),
                   ('22', 22, FALSE, 'jod', '2027-04-30'))
    AS v(version, major, is_default, codename, eol)
WHERE r.ref = 'core.nodejs';
