import { describe, expect, it } from 'vitest';
import { jsonParam, jsonParamValue, withJsonSources } from '../../../src/db/rows';

describe('JSON parameter sources', () => {
  it('hands back the attached value itself, not a parse of its text', () => {
    const result = { stdout: 'x'.repeat(100), n: 1 };
    const params = withJsonSources([7, 'completed', jsonParam(result)], { 2: result });
    expect(jsonParamValue(params, 2)).toBe(result);
    // Invisible to node-postgres: not an element, not enumerable, the array is unchanged.
    expect(params).toHaveLength(3);
    expect(Object.keys(params)).toEqual(['0', '1', '2']);
    expect(JSON.stringify(params)).toBe(JSON.stringify([7, 'completed', JSON.stringify(result)]));
  });

  it('parses the text when nothing is attached, and maps a NULL parameter to null', () => {
    expect(jsonParamValue([1, '{"a":[1,2]}'], 1)).toEqual({ a: [1, 2] });
    expect(jsonParamValue([1, null], 1)).toBeNull();
    expect(jsonParamValue(withJsonSources([1, jsonParam(undefined)], { 1: undefined }), 1)).toBeNull();
  });
});
